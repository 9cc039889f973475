"""Reconciliation: the live transcript kept as it is, the recording's words added only where live missed them.

Pure: stored segments, the recording's words and the alignment in; the segments to write and the
call's reconciliation fields out. What a change must keep:
- live segments are never changed, and every word is stored once (covered with `COVER_TOLERANCE`,
  or echoed at a live segment's edge within `ECHO_WINDOW`, means heard live);
- `liveCoverage` is the contract's exact number: the same cover test without the slack;
- added segments are redacted after every decision, live segments read as context only;
- keys (`recording_segment_key`, `…#track#r`) come from the words' own timing and never equal a
  live key, so a re-run writes the same items and overwrites nothing live.
The rules and why: docs/recordings.md, "Coverage and what is added", "Keys, `source` and idempotency".
"""

from __future__ import annotations

import bisect
import hashlib
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from functions.recordings.alignment import Alignment
from functions.recordings.words import INBOUND, OUTBOUND, Word, normalise, segment_tokens
from shared.dal.keys import recording_segment_key
from shared.dal.records import RECORDING, Gap, ReconciliationUpdate, Segment
from shared.redaction import Redactor

COVER_TOLERANCE = 0.2  # seconds of slack at a live segment's edges when deciding a word was heard live
ECHO_WINDOW = 0.6  # seconds: the same word at a live segment's edge this near is that word, heard live
MAX_PAUSE = 1.0  # a longer silence between two added words starts a new segment
MAX_SEGMENT_SECONDS = 15.0
MAX_SEGMENT_WORDS = 40
_SENTENCE_END = (".", "?", "!")
_EPSILON = 1e-9

LIVE_ONLY, LIVE_AND_RECORDING, RECORDING_ONLY = "live", "live+recording", "recording"


def speaker_roles(route: str | None) -> dict[str, str]:
    """Who speaks on each track, as the streamer names them: the outbound side is the AI agent on an
    agent route and the dialled party otherwise."""
    return {INBOUND: "caller", OUTBOUND: "agent" if route == "agent" else "callee"}


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What one reconciliation decided; `update()` is what the call record stores."""

    call_sid: str
    alignment: Alignment
    segments: tuple[Segment, ...]  # the recording segments to write (origin=recording)
    obsolete_keys: tuple[str, ...]  # recording segments of an earlier run that this one no longer adds
    gaps: tuple[Gap, ...]
    live_coverage: float
    filled_seconds: float
    transcript_source: str
    segment_count: int  # segments of the final transcript (live kept + recording added)
    transcript_version: str
    redaction_counts: Mapping[str, int] | None = None  # kind -> replaced in `segments`; None: off

    def update(self, transcript_status: str) -> ReconciliationUpdate:
        """The call record's fields; `transcript_status` is the live transcript's status as read
        before reconciling (stored so that an early reconciliation is known to be redone)."""
        return ReconciliationUpdate(
            call_sid=self.call_sid,
            transcript_source=self.transcript_source,
            segment_count=self.segment_count,
            live_coverage=self.live_coverage,
            gaps=self.gaps,
            filled_seconds=self.filled_seconds,
            transcript_version=self.transcript_version,
            alignment_offset=round(self.alignment.offset, 3),
            alignment_method=self.alignment.method,
            alignment_matches=self.alignment.matches,
            transcript_status=transcript_status,
            redaction_counts=self.redaction_counts,
        )


class _TrackLive:
    """One track's live segments sorted by start, for overlap queries in O(log n) plus neighbours."""

    def __init__(self, segments: Iterable[Segment]) -> None:
        kept = list(segments)
        self.spans = sorted((segment.start, segment.end) for segment in kept)
        self.starts = [start for start, _ in self.spans]
        self.longest = max((end - start for start, end in self.spans), default=0.0)
        # the stream time of each live segment's first and last token, by normalised text, sorted
        self.token_times: dict[str, list[float]] = {}
        for segment in kept:
            for token in segment_tokens(segment.text, segment.start, segment.end):
                if token.kind != "inner":  # only the edges have a word's own time
                    self.token_times.setdefault(token.token, []).append(token.time)
        for times in self.token_times.values():
            times.sort()

    def said_near(self, text: str, start: float, end: float) -> bool:
        """True when a live segment starts or ends with this (normalised) text within `ECHO_WINDOW`."""
        times = self.token_times.get(normalise(text))
        if not times:
            return False
        index = bisect.bisect_left(times, start - ECHO_WINDOW)
        return index < len(times) and times[index] <= end + ECHO_WINDOW

    def best_overlap(self, start: float, end: float, pad: float) -> float:
        """The largest overlap of [start, end] with one segment widened by `pad` (-inf with none near)."""
        best = float("-inf")
        index = bisect.bisect_left(self.starts, end + pad) - 1
        # segments further left end before start: none starts earlier and lasts longer than `longest`
        while index >= 0 and self.starts[index] + self.longest + pad >= start:
            seg_start, seg_end = self.spans[index]
            best = max(best, min(end, seg_end + pad) - max(start, seg_start - pad))
            index -= 1
        return best

    def contains_one(self, start: float, end: float) -> bool:
        """True when a whole live segment lies inside [start, end]."""
        first = bisect.bisect_left(self.starts, start)
        last = bisect.bisect_right(self.starts, end)
        return any(self.spans[i][1] <= end for i in range(first, last))


def _heard_live(word: Word, live: _TrackLive, pad: float) -> bool:
    return live.best_overlap(word.start, word.end, pad) >= word.duration / 2 - _EPSILON


def _runs(words: Sequence[Word], live: _TrackLive) -> tuple[list[list[Word]], float]:
    """The gaps' words (runs of uncovered words) and the exactly-covered duration, in one pass."""
    runs: list[list[Word]] = []
    run: list[Word] = []
    covered = 0.0
    for word in words:
        if word.duration > 0 and _heard_live(word, live, 0.0):
            covered += word.duration
        if (
            _heard_live(word, live, COVER_TOLERANCE)
            or live.contains_one(word.start, word.end)
            or live.said_near(word.text, word.start, word.end)
        ):
            run = []
            continue
        if run and live.contains_one(run[-1].start, word.end):  # live speech between the two words
            run = []
        if not run:
            runs.append(run)
        run.append(word)
    return runs, covered


def _pieces(runs: Sequence[Sequence[Word]]) -> list[list[Word]]:
    """The gaps' words cut where a live transcript would cut them: pauses, sentence ends, length.

    A piece never starts in the same millisecond as the one before it (only zero-length words could),
    since both would get the same key and one would overwrite the other.
    """
    pieces: list[list[Word]] = []
    for run in runs:
        for index, word in enumerate(run):
            if pieces:
                piece = pieces[-1]
                previous = piece[-1]
                cut = index == 0 or (
                    word.start - previous.end > MAX_PAUSE
                    or previous.text.endswith(_SENTENCE_END)
                    or len(piece) >= MAX_SEGMENT_WORDS
                    or word.end - piece[0].start > MAX_SEGMENT_SECONDS
                )
                if not cut or _stream_time(word.start) == _stream_time(piece[0].start):
                    piece.append(word)
                    continue
            pieces.append([word])
    return pieces


def _stream_time(seconds: float) -> float:
    return round(max(seconds, 0.0), 3)


def _segment(call_sid: str, words: Sequence[Word], speaker: str, source: str | None) -> Segment:
    start = _stream_time(words[0].start)
    confidences = [word.confidence for word in words if word.confidence is not None]
    return Segment(
        call_sid=call_sid,
        segment_key=recording_segment_key(start, words[0].track),
        track=words[0].track,
        speaker=speaker,
        text=" ".join(word.text for word in words),
        start=start,
        end=_stream_time(max(word.end for word in words)),
        confidence=round(statistics.fmean(confidences), 4) if confidences else None,
        source=source,
        origin=RECORDING,
    )


def source_kind(*, filled_any: bool, live_any: bool) -> str:
    """`transcriptSource`: `live` when nothing was missing (also for a call nobody spoke in),
    `live+recording` when gaps were filled, `recording` when no live segment survived."""
    if not filled_any:
        return LIVE_ONLY
    return LIVE_AND_RECORDING if live_any else RECORDING_ONLY


def transcript_version(segments: Iterable[Segment]) -> str:
    """A digest of the final transcript: equal for equal transcripts, whichever run produced them."""
    digest = hashlib.sha256()
    for segment in sorted(segments, key=lambda s: s.segment_key):
        digest.update(f"{segment.segment_key}\t{segment.start}\t{segment.end}\t{segment.text}\n".encode())
    return digest.hexdigest()[:16]


def reconcile(
    call_sid: str,
    stored: Sequence[Segment],
    words: Iterable[Word],
    alignment: Alignment,
    speakers: Mapping[str, str],
    source: str | None = None,
    redactor: Redactor | None = None,
) -> Reconciliation:
    """Reconcile the recording's `words` (recording time) with the call's `stored` segments.

    `stored` is everything the segments table holds for the call: live segments, and the recording
    segments of an earlier run (recognised by their origin and never taken for live speech).
    `speakers` names each track's speaker (`speaker_roles`); `source` is what recognised the
    recording (e.g. `deepgram:nova-3`); `redactor` (a fresh one; None: redaction off) redacts the
    segments added, once everything else is decided.
    """
    live = [segment for segment in stored if not segment.from_recording]
    earlier = {segment.segment_key for segment in stored if segment.from_recording}
    aligned: dict[str, list[Word]] = {}
    for word in words:
        start, end = alignment.to_stream(word.start), alignment.to_stream(word.end)
        moved = Word(word.track, start, end, word.text, word.confidence)
        aligned.setdefault(word.track, []).append(moved)

    added: list[Segment] = []
    gaps: list[Gap] = []
    total = covered = filled = 0.0
    for track in sorted(aligned):
        track_words = sorted(aligned[track], key=lambda w: (w.start, w.end, w.text))
        runs, track_covered = _runs(track_words, _TrackLive(s for s in live if s.track == track))
        total += sum(word.duration for word in track_words)
        covered += track_covered
        for run in runs:
            filled += sum(word.duration for word in run)
            gaps.append(Gap(track, _stream_time(run[0].start), _stream_time(max(w.end for w in run))))
        added += [_segment(call_sid, piece, speakers.get(track, track), source) for piece in _pieces(runs)]

    if redactor is not None:
        added = redact_segments(added, redactor, context=live)
    new_keys = {segment.segment_key for segment in added}
    return Reconciliation(
        call_sid=call_sid,
        alignment=alignment,
        segments=tuple(added),
        obsolete_keys=tuple(sorted(earlier - new_keys)),
        gaps=tuple(gaps),
        live_coverage=covered / total if total > 0 else 1.0,
        filled_seconds=round(filled, 6),
        transcript_source=source_kind(filled_any=bool(added), live_any=bool(live)),
        segment_count=len(live) + len(added),
        transcript_version=transcript_version([*live, *added]),
        redaction_counts=dict(redactor.counts) if redactor is not None else None,
    )


def redact_segments(
    segments: Sequence[Segment], redactor: Redactor, context: Sequence[Segment] = ()
) -> list[Segment]:
    """The segments with their text redacted, in the order given. Each track is read as one stream in
    time order, as the streamer reads it, `context` (the live segments) included but never changed,
    so digits read out over several segments, live or added, are judged as one run."""
    entries = sorted(
        [*((segment, index) for index, segment in enumerate(segments)), *((s, None) for s in context)],
        key=lambda entry: (entry[0].start, entry[0].end, entry[0].track, entry[1] is not None),
    )
    redacted = redactor.redact_lines(
        [segment.track for segment, _ in entries],
        [segment.text for segment, _ in entries],
        starts=[segment.start for segment, _ in entries],
        fixed=[index is None for _, index in entries],
    )
    texts = [segment.text for segment in segments]
    for (_, index), text in zip(entries, redacted, strict=True):
        if index is not None:
            texts[index] = text
    return [
        segment if text == segment.text else replace(segment, text=text)
        for segment, text in zip(segments, texts, strict=True)
    ]
