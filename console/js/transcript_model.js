// A call's transcript as the page holds it, with no DOM: segments from the API and the feed merged by
// `segmentId` (the same segment from both, or twice from either, is kept once, the latest copy
// winning; a read never removes what the feed brought, since a segment stored after the read began
// may be missing from it), ordered as the API orders them (stream time, then track, live before recording), and
// the player's time of each segment once the recording's offset is known.

/** The segment's identity: `segmentId`, or (an older API without it) what the store keys it by. */
export function segmentKey(segment) {
  if (segment.segmentId) return String(segment.segmentId);
  const ms = String(Math.round(Number(segment.start) * 1000)).padStart(10, '0');
  return `${ms}#${segment.track}${segment.source === 'recording' ? '#r' : ''}`;
}

export function compareSegments(a, b) {
  return (
    Number(a.start) - Number(b.start) ||
    String(a.track).localeCompare(String(b.track)) ||
    (a.source === 'recording') - (b.source === 'recording') ||
    segmentKey(a).localeCompare(segmentKey(b))
  );
}

/** Where the player is when this segment starts: stream time minus the recording's start, never < 0. */
export function seekTime(start, offsetSeconds) {
  return Math.max(0, Math.round((Number(start) - Number(offsetSeconds || 0)) * 1000) / 1000);
}

export class Transcript {
  constructor() {
    this.byKey = new Map();
  }

  get size() {
    return this.byKey.size;
  }

  /** Add or replace one segment: 'added', 'changed' or 'same'. */
  upsert(segment) {
    const key = segmentKey(segment);
    const old = this.byKey.get(key);
    const value = {...segment, key};
    this.byKey.set(key, value);
    if (!old) return 'added';
    const same = ['text', 'start', 'end', 'speaker', 'track', 'source'].every((f) => old[f] === value[f]);
    return same ? 'same' : 'changed';
  }

  list() {
    return [...this.byKey.values()].sort(compareSegments);
  }

  /** Keys of the segments playing at player time `t` (two tracks can overlap). */
  activeAt(t, offsetSeconds) {
    const keys = [];
    for (const segment of this.byKey.values()) {
      const from = seekTime(segment.start, offsetSeconds);
      const to = Math.max(from + 0.25, Number(segment.end) - Number(offsetSeconds || 0));
      if (t >= from && t < to) keys.push(segment.key);
    }
    return keys;
  }
}
