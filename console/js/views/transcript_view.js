// A call's transcript on screen: one list item per segment (`[data-testid=segment]` with
// `data-track`, `data-start` (stream time, as the API), `data-source`, and `data-seek` once the
// recording is shown), in the model's order, updated in place as segments arrive.
//
// Keyboard: once the player is there the list is one tab stop; arrows, Home and End move between
// lines and Enter or Space plays from the focused line (a click does the same). While the call is
// live, new lines are announced politely and at most every 15 s, and the page follows the newest
// line only while the reader is already at the bottom of it. The transcript scrolls with the page
// (no scroll box inside it); the player stays in view above it (CSS sticky).

import {h, replace, srOnly} from '../dom.js';
import {formatOffset, formatPercent, speakerLabel, spokenOffset} from '../format.js';
import {seekTime} from '../transcript_model.js';

const ANNOUNCE_EVERY_MS = 15_000;
const SOURCE_TEXT = {
  live: 'Transcribed live; the recording confirmed nothing was missing.',
  'live+recording': 'Transcribed live, with gaps filled in from the recording.',
  recording: 'Transcribed from the recording (nothing survived from the live transcript).',
};

export class TranscriptView {
  constructor({onSeek}) {
    this.onSeek = onSeek;
    this.items = new Map(); // key -> li
    this.offset = null; // the recording's start in stream time, once the player is shown
    this.active = new Set();
    this.pendingAnnounce = 0;
    this.lastAnnounce = 0;
    this.announceTimer = null;
    this.live = false;
    this.shown = false; // the first lines have been put on screen

    this.list = h('ol', {class: 'segments', 'aria-label': 'Transcript lines'});
    this.empty = h('p', {class: 'state empty-inline muted'}, '');
    this.source = h('p', {class: 'transcript-source muted'});
    this.gaps = h('div', {class: 'gaps-slot'});
    this.hint = h('p', {class: 'hint', hidden: true}, 'Select a line, or press Enter or Space on it, to play the recording from there.');
    this.announcer = h('div', {class: 'sr-only', role: 'status', 'aria-live': 'polite'});
    this.listening = h('p', {class: 'listening', hidden: true}, h('span', {class: 'pulse', 'aria-hidden': 'true'}),
      'Live: new lines appear as they are transcribed.');
    this.el = h('div', {class: 'transcript'}, this.source, this.gaps, this.hint, this.empty, this.list, this.listening, this.announcer);

    this.list.addEventListener('click', (event) => {
      const li = event.target.closest('li[data-testid=segment]');
      if (li && this.offset !== null && !window.getSelection()?.toString()) this._play(li);
    });
    this.list.addEventListener('keydown', (event) => this._onKey(event));
    this._renderEmpty();
  }

  /** The whole transcript in order (from the model); items are reused, moved only when out of place. */
  setAll(segments) {
    const stickToBottom = this._atBottom();
    const wanted = new Set(segments.map((s) => s.key));
    for (const [key, li] of this.items) {
      if (!wanted.has(key)) {
        li.remove();
        this.items.delete(key);
      }
    }
    let added = 0;
    let cursor = this.list.firstElementChild;
    for (const segment of segments) {
      let li = this.items.get(segment.key);
      if (!li) {
        li = this._item(segment);
        this.items.set(segment.key, li);
        added += 1;
      } else if (li.dataset.sig !== signature(segment)) {
        const fresh = this._item(segment);
        li.replaceWith(fresh);
        if (cursor === li) cursor = fresh;
        this.items.set(segment.key, fresh);
        li = fresh;
      }
      if (li !== cursor) this.list.insertBefore(li, cursor);
      else cursor = cursor.nextElementSibling;
    }
    this._renderEmpty();
    this._ensureTabStop();
    this.listening.hidden = !this.live || this.items.size === 0;
    if (added && this.live && this.shown) this._announce(added); // what the page opened with is not news
    this.shown = true;
    if (added && stickToBottom && this.live) window.scrollTo({top: document.documentElement.scrollHeight});
  }

  setLive(live, transcriptStatus) {
    this.live = live;
    this.transcriptStatus = transcriptStatus;
    this.el.classList.toggle('is-live', live);
    this.listening.hidden = !live || this.items.size === 0;
    this._renderEmpty();
  }

  setSource(call) {
    const parts = [];
    if (call.transcriptSource) parts.push(SOURCE_TEXT[call.transcriptSource] || call.transcriptSource);
    if (call.liveCoverage !== null && call.liveCoverage !== undefined) parts.push(`Live coverage ${formatPercent(call.liveCoverage)}.`);
    this.source.textContent = parts.join(' ');
    this.source.hidden = !parts.length;
    const gaps = call.gaps;
    if (!Array.isArray(gaps)) {
      replace(this.gaps);
      return;
    }
    const title = gaps.length
      ? `${gaps.length} gap${gaps.length === 1 ? '' : 's'} filled from the recording`
      : 'No gaps: the live transcript missed nothing.';
    replace(this.gaps, h('section', {class: gaps.length ? 'gaps' : 'gaps gaps-none', 'data-testid': 'gaps', 'aria-label': 'Gaps in the live transcript'},
      h('p', {class: 'gaps-title'}, title),
      gaps.length ? h('ul', {class: 'gap-list'}, gaps.map((gap) => h('li', {'data-track': gap.track, 'data-start': gap.start, 'data-end': gap.end},
        h('span', {class: `track-tag track-${gap.track}`}, gap.track === 'inbound' ? 'Caller side' : 'Other side'),
        ` ${formatOffset(gap.start)}–${formatOffset(gap.end)}`))) : null));
  }

  /** The recording is shown: every line gets its player time and becomes a way to play from there. */
  setOffset(offsetSeconds) {
    this.offset = Number(offsetSeconds) || 0;
    this.hint.hidden = false;
    for (const li of this.items.values()) this._makePlayable(li);
    this._ensureTabStop();
  }

  /** Mark the lines playing now (keys from the model); keep the first in view while playing. */
  highlight(keys, playing) {
    const next = new Set(keys);
    for (const key of this.active) if (!next.has(key)) this.items.get(key)?.classList.remove('playing');
    let first = null;
    for (const key of next) {
      const li = this.items.get(key);
      if (!li) continue;
      li.classList.add('playing');
      if (!this.active.has(key) && !first) first = li;
    }
    this.active = next;
    if (first && playing) this._keepInView(first);
  }

  _item(segment) {
    const recording = segment.source === 'recording';
    const li = h('li', {
      class: `segment track-${segment.track} ${recording ? 'from-recording' : ''}`,
      'data-testid': 'segment',
      'data-track': segment.track,
      'data-start': String(segment.start),
      'data-source': segment.source || 'live',
      'data-segment-id': segment.key,
      'data-sig': signature(segment),
    },
    h('div', {class: 'segment-meta'},
      h('span', {class: 'speaker'}, speakerLabel(segment.speaker, segment.track)),
      h('span', {class: 'time', 'aria-hidden': 'true'}, formatOffset(segment.start)),
      srOnly(` at ${spokenOffset(segment.start)}`),
      recording ? h('span', {class: 'badge badge-recording', title: 'Missed live; filled in from the recording'}, 'from recording') : null),
    h('p', {class: 'segment-text'}, segment.text));
    if (this.offset !== null) this._makePlayable(li);
    return li;
  }

  _makePlayable(li) {
    const seek = seekTime(li.dataset.start, this.offset);
    li.dataset.seek = String(seek);
    li.classList.add('playable');
    if (!li.hasAttribute('tabindex')) li.setAttribute('tabindex', '-1');
    li.title = `Play from ${formatOffset(seek)}`;
  }

  _ensureTabStop() {
    if (this.offset === null) return;
    const items = [...this.list.children];
    if (!items.length) return;
    if (!items.some((li) => li.getAttribute('tabindex') === '0')) items[0].setAttribute('tabindex', '0');
  }

  _focusItem(li) {
    for (const other of this.list.querySelectorAll('li[tabindex="0"]')) other.setAttribute('tabindex', '-1');
    li.setAttribute('tabindex', '0');
    li.focus();
  }

  _play(li) {
    this._focusItem(li);
    this.onSeek(Number(li.dataset.seek));
  }

  _onKey(event) {
    const li = event.target.closest('li[data-testid=segment]');
    if (!li || this.offset === null) return;
    let target = null;
    switch (event.key) {
      case 'Enter':
      case ' ':
        event.preventDefault();
        this._play(li);
        return;
      case 'ArrowDown':
        target = li.nextElementSibling;
        break;
      case 'ArrowUp':
        target = li.previousElementSibling;
        break;
      case 'Home':
        target = this.list.firstElementChild;
        break;
      case 'End':
        target = this.list.lastElementChild;
        break;
      default:
        return;
    }
    event.preventDefault();
    if (target) this._focusItem(target);
  }

  _renderEmpty() {
    const none = this.items.size === 0;
    this.empty.hidden = !none;
    this.list.hidden = none;
    if (!none) return;
    if (this.live) this.empty.textContent = 'Listening… the first words appear here as soon as they are transcribed.';
    else if (this.transcriptStatus === 'failed') this.empty.textContent = 'The call could not be transcribed.';
    else if (this.transcriptStatus === 'in-progress' || this.transcriptStatus === 'pending') this.empty.textContent = 'The transcript is being finished.';
    else this.empty.textContent = 'Nobody spoke on this call.';
  }

  _announce(count) {
    this.pendingAnnounce += count;
    if (this.announceTimer) return;
    const wait = Math.max(0, this.lastAnnounce + ANNOUNCE_EVERY_MS - Date.now());
    this.announceTimer = setTimeout(() => {
      this.announceTimer = null;
      const n = this.pendingAnnounce;
      this.pendingAnnounce = 0;
      this.lastAnnounce = Date.now();
      if (n) this.announcer.textContent = `${n} new transcript line${n === 1 ? '' : 's'}.`;
    }, wait);
  }

  _atBottom() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 48;
  }

  _keepInView(li) {
    const box = li.getBoundingClientRect();
    const player = document.querySelector('.player-panel.docked')?.getBoundingClientRect();
    const top = player ? player.bottom : 0;
    if (box.top < top || box.bottom > window.innerHeight) li.scrollIntoView({block: 'center'});
  }

  dispose() {
    clearTimeout(this.announceTimer);
  }
}

function signature(segment) {
  return `${segment.text}|${segment.start}|${segment.end}|${segment.speaker}|${segment.source}`;
}
