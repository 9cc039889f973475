// The recording player (`audio[data-testid=recording]`), for supervisors: the API answers the
// presigned URL (403 for anyone else, which is what decides: the console hides nothing on its own).
// It reports the playing time (to highlight the transcript) and seeks when a line is chosen; a URL
// that expired while the page was open is fetched again at the same position, and the recording's
// start in stream time is asked again once the call is reconciled (it is measured better then).

import {ApiError} from '../api.js';
import {SessionEnded} from '../auth.js';
import {h, replace} from '../dom.js';

export class PlayerView {
  constructor({api, callSid, signal, onReady, onTime}) {
    this.api = api;
    this.callSid = callSid;
    this.signal = signal;
    this.onReady = onReady; // (offsetSeconds) => void, once the player is shown
    this.onTime = onTime; // (seconds, playing) => void
    this.state = 'idle'; // waiting (call live) | loading | ready | none | forbidden | error
    this.audio = null;
    this.recording = null;
    this.renewals = 0;
    this.el = h('div', {class: 'player'});
  }

  /** While the call runs there is no recording to ask for yet. */
  wait() {
    if (this.state !== 'idle' && this.state !== 'waiting') return;
    this.state = 'waiting';
    replace(this.el, h('p', {class: 'muted'}, 'The recording is available shortly after the call ends.'));
  }

  /** Ask for the recording (again, unless it is shown or refused for good). */
  async load() {
    if (this.state === 'ready' || this.state === 'forbidden' || this.state === 'loading') return;
    const first = this.state === 'idle' || this.state === 'waiting';
    this.state = 'loading';
    if (first) replace(this.el, h('p', {class: 'muted'}, 'Looking for the recording…'));
    try {
      const recording = await this.api.getRecording(this.callSid, {signal: this.signal});
      if (!recording) {
        this._none();
        return;
      }
      this._show(recording);
    } catch (error) {
      if (error.name === 'AbortError' || error instanceof SessionEnded) return;
      if (error instanceof ApiError && error.status === 403) {
        this.state = 'forbidden';
        replace(this.el, h('p', {class: 'notice', 'data-testid': 'recording-restricted'},
          h('strong', null, 'Recording available to supervisors. '),
          'Ask an administrator if you need to listen to calls.'));
        return;
      }
      this.state = 'error';
      replace(this.el, h('p', {class: 'notice'}, 'The recording could not be loaded. ',
        h('button', {type: 'button', class: 'button small', onclick: () => this.load()}, 'Try again')));
    }
  }

  /**
   * Ask again where the recording starts in stream time: the reconciliation measures it from the
   * words (a link issued before it came from the timestamps, or nothing). The audio keeps its URL.
   */
  async refreshOffset() {
    if (this.state !== 'ready') return;
    try {
      const recording = await this.api.getRecording(this.callSid, {signal: this.signal});
      if (!recording || this.state !== 'ready' || !this.audio) return;
      this.recording = recording;
      this.onReady(Number(recording.offsetSeconds) || 0);
      this.onTime(this.audio.currentTime, !this.audio.paused);
    } catch {
      // the offset shown stays; reading the page again asks again
    }
  }

  seek(seconds) {
    if (!this.audio) return;
    this.audio.currentTime = seconds;
    this.onTime(seconds, !this.audio.paused);
  }

  /** Leaving the page: stop the sound and let go of the URL. */
  dispose() {
    if (!this.audio) return;
    this.audio.pause();
    this.audio.removeAttribute('src');
    this.audio.load();
    this.audio = null;
  }

  _none() {
    this.state = 'none';
    replace(this.el, h('p', {class: 'muted'}, 'No recording yet: it is stored a little after the call ends. ',
      h('button', {type: 'button', class: 'button small', onclick: () => this.load()}, 'Check again')));
  }

  _show(recording) {
    this.state = 'ready';
    this.recording = recording;
    const audio = h('audio', {
      controls: true,
      preload: 'metadata',
      'data-testid': 'recording',
      'aria-label': 'Call recording',
      src: recording.url,
    });
    const report = () => this.onTime(audio.currentTime, !audio.paused);
    audio.addEventListener('timeupdate', report);
    audio.addEventListener('seeked', report);
    audio.addEventListener('play', report);
    audio.addEventListener('error', () => this._renew());
    this.audio = audio;
    replace(this.el, audio);
    this.onReady(Number(recording.offsetSeconds) || 0);
  }

  /** The presigned URL stopped working (usually: expired). New URL, same position, same play state. */
  async _renew() {
    if (this.renewals >= 3 || !this.audio) return;
    this.renewals += 1;
    const {currentTime, paused} = this.audio;
    try {
      const recording = await this.api.getRecording(this.callSid, {signal: this.signal});
      if (!recording || !this.audio) return;
      this.recording = recording;
      this.audio.src = recording.url;
      this.audio.addEventListener('loadedmetadata', () => {
        this.audio.currentTime = currentTime;
        if (!paused) this.audio.play().catch(() => {});
      }, {once: true});
    } catch {
      // the next error, or a reload, tries again
    }
  }
}
