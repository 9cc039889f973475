// A call's page (#/calls/{callSid}): the call's facts, the recording player, the transcript by
// speaker, and beside them the summary, evaluation answers, cost and legs.
//
// Live: the page follows the call's feed channel and reads the call from the API (every transcript
// page) each time the subscription is (re)established: once at first, and again after any reconnect
// or token refresh, so segments stored while the feed was away are read, not lost. Segments from
// either source are merged by `segmentId`. A call message that changes what the record holds
// (summary ready, reconciled, transcript finished, call ended) reads the call again; a message about
// one of its `<Dial>`ed legs (`parentCallSid`) updates that leg's line.

import {ApiError} from '../api.js';
import {SessionEnded} from '../auth.js';
import {isLive, mergeCall, mergeLeg, mergeLegs} from '../calls_model.js';
import {h, replace} from '../dom.js';
import {
  elapsedSeconds, formatDateTime, formatDuration, formatNumber, isTerminal, routeLabel, transcriptLabel,
} from '../format.js';
import {Transcript} from '../transcript_model.js';
import {costSection, evaluationsSection, legsSection, summarySection} from './call_details.js';
import {emptyState, errorState, loadingState, pageHeading, statusPill} from './common.js';
import {PlayerView} from './player.js';
import {TranscriptView} from './transcript_view.js';

const SETTLE_DELAYS_S = [2, 3, 5, 5, 10, 10, 20, 30, 60, 60, 120]; // ~5 minutes in all
const FINAL_TRANSCRIPT = new Set(['completed', 'incomplete', 'failed']);

const SETTLING_MS = 15 * 60 * 1000; // a call that ended longer ago than this has settled, whatever it lacks

/** Nothing more to wait for: a live call still streaming is followed by the feed instead. */
function isSettled(call, playerState) {
  if (call.live) return !FINAL_TRANSCRIPT.has(call.transcriptStatus); // streaming: the feed drives the page
  const ended = Date.parse(call.endedAt || '');
  if (Number.isFinite(ended) && Date.now() - ended > SETTLING_MS) return true;
  const summarised = Boolean(call.summary) || call.summaryStatus === 'failed';
  const recording = call.recording && call.recording.status !== 'absent';
  const reconciled = !recording || Boolean(call.transcriptSource);
  const playable = playerState !== 'none' || !recording;
  return summarised && reconciled && playable && costComplete(call, recording);
}

/** The cost is estimated again as its parts arrive: the recording's transcription comes with the
 * reconciliation, and the legs are priced on their own records. */
function costComplete(call, recording) {
  const cost = call.cost;
  if (!cost) return false;
  const known = (value) => value !== null && value !== undefined;
  if (recording && call.transcriptSource && !known(cost.deepgramPrerecordedUsd)) return false;
  return !(call.legs || []).length || known(call.conversationCostUsd);
}

const DIRECTIONS = {inbound: 'Inbound', 'outbound-api': 'Outbound', 'outbound-dial': 'Outbound (dialled leg)'};

function panel(id, title, ...content) {
  return h('section', {class: 'panel', 'aria-labelledby': `${id}-heading`, id},
    h('div', {class: 'panel-head'}, h('h2', {id: `${id}-heading`}, title)),
    h('div', {class: 'panel-body'}, ...content));
}

function title(call) {
  if (!call.direction) return 'Call';
  return call.direction === 'inbound' ? `Call from ${formatNumber(call.from)}` : `Call to ${formatNumber(call.to)}`;
}

function facts(call) {
  const inbound = call.direction === 'inbound';
  const rows = [
    ['Started', call.startedAt ? h('time', {datetime: call.startedAt}, formatDateTime(call.startedAt)) : '—'],
    call.live
      ? ['Running', h('span', {'data-field': 'running'}, formatDuration(elapsedSeconds(call.startedAt)))]
      : ['Ended', call.endedAt ? h('time', {datetime: call.endedAt}, formatDateTime(call.endedAt)) : '—'],
    call.live ? null : ['Duration', formatDuration(call.durationSeconds)],
    ['Direction', DIRECTIONS[call.direction] || call.direction || '—'],
    ['Route', routeLabel(call.route)],
    [inbound ? 'Our number' : 'From', formatNumber(inbound ? call.to : call.from)],
    call.connectTo ? ['Forwarded to', formatNumber(call.connectTo)] : null,
    ['Transcript', transcriptLabel(call.transcriptStatus)],
    ['Call SID', h('code', {class: 'mono'}, call.callSid)],
  ].filter(Boolean);
  return h('dl', {class: 'meta'}, rows.map(([term, value]) => h('div', null, h('dt', null, term), h('dd', null, value))));
}

export function renderCallPage(main, {api, feed, route, scope}) {
  const callSid = route.params.callSid;
  const transcript = new Transcript();
  let call = null;
  let offset = null;
  let inFlight = null;
  let again = false;
  let settleTimer = null;
  let settlePolls = 0;

  const view = new TranscriptView({onSeek: (seconds) => player.seek(seconds)});
  const player = new PlayerView({
    api,
    callSid,
    signal: scope.signal,
    onReady: (seconds) => {
      offset = seconds;
      view.setOffset(seconds);
      recordingPanel.classList.add('docked'); // the player stays in view while the transcript scrolls
    },
    onTime: (seconds, playing) => view.highlight(transcript.activeAt(seconds, offset), playing),
  });

  // the heading stays the same element (it has the focus after navigation); only its text changes
  const heading = pageHeading('Call');
  const headBody = h('div', null, loadingState('Loading the call…'));
  const head = h('div', {class: 'call-head'}, heading, headBody);
  const slots = {
    summary: h('div'),
    evaluations: h('div'),
    cost: h('div'),
    legs: h('div'),
  };
  const legsPanel = panel('legs', 'Legs', slots.legs);
  const recordingPanel = panel('recording', 'Recording', player.el);
  recordingPanel.classList.add('player-panel');
  const notice = h('div', {class: 'page-notice', role: 'status'});
  const body = h('div', {class: 'call-grid', hidden: true},
    h('div', {class: 'call-main'},
      recordingPanel,
      panel('transcript', 'Transcript', view.el)),
    h('aside', {class: 'call-side', 'aria-label': 'Summary, evaluation and cost'},
      panel('summary', 'Summary', slots.summary),
      panel('evaluation', 'Evaluation', slots.evaluations),
      panel('cost', 'Cost', slots.cost),
      legsPanel));
  replace(main, h('section', {class: 'page call-page'},
    h('nav', {class: 'breadcrumb', 'aria-label': 'Breadcrumb'}, h('a', {href: '#/'}, '← All calls')),
    head, notice, body));
  document.title = `Call ${callSid} · callscribe`;

  const render = () => {
    replace(heading, title(call), ' ', statusPill(call.status));
    replace(headBody, facts(call));
    document.title = `${title(call)} · callscribe`;
    view.setLive(call.live, call.transcriptStatus);
    view.setSource(call);
    view.setAll(transcript.list());
    replace(slots.summary, summarySection(call));
    replace(slots.evaluations, evaluationsSection(call));
    replace(slots.cost, costSection(call));
    const legs = legsSection(call);
    legsPanel.hidden = !legs;
    replace(slots.legs, legs);
    body.hidden = false;
  };

  const readOnce = async () => {
    let record;
    try {
      record = await api.getCall(callSid, {signal: scope.signal});
    } catch (error) {
      if (error.name === 'AbortError' || error instanceof SessionEnded || scope.disposed) return;
      const message = error instanceof ApiError ? error.message : 'The call could not be loaded.';
      if (!call) replace(headBody, errorState(message, () => reload()));
      else replace(notice, h('p', {class: 'notice'}, `${message} Showing what was loaded before.`));
      return;
    }
    if (scope.disposed) return;
    if (!record) {
      replace(heading, 'Call not found');
      replace(headBody, emptyState(`There is no call ${callSid}.`, 'Check the address, or go back to the list.'));
      body.hidden = true;
      return;
    }
    replace(notice);
    const {transcript: segments, ...fields} = record;
    const reconciledBefore = Boolean(call?.transcriptSource);
    const shownLegs = call?.legs;
    call = mergeCall(call, fields);
    call.legs = mergeLegs(shownLegs, fields.legs); // a read that started before a leg's news keeps it
    call.live = isLive(call);
    for (const segment of segments || []) transcript.upsert(segment);
    render();
    if (call.live) player.wait();
    else if (['idle', 'waiting'].includes(player.state) || (player.state === 'none' && call.recording)) player.load();
    else if (call.transcriptSource && !reconciledBefore) player.refreshOffset(); // aligned by the words now
    scheduleSettleRead();
  };

  /**
   * After a call ends its record keeps changing for a minute or so (the status callback, the recording
   * stored and reconciled, the summary, the cost). The feed announces those it knows of; the page also
   * reads the call again at growing intervals until it has settled, so it never waits on a message
   * that no publisher sends.
   */
  const scheduleSettleRead = () => {
    clearTimeout(settleTimer);
    if (!call || isSettled(call, player.state) || settlePolls >= SETTLE_DELAYS_S.length || scope.disposed) return;
    settleTimer = setTimeout(() => {
      settlePolls += 1;
      reload();
    }, SETTLE_DELAYS_S[settlePolls] * 1000);
  };

  /** Read the call now; calls made while a read is running coalesce into one more read after it. */
  const reload = () => {
    if (inFlight) {
      again = true;
      return inFlight;
    }
    inFlight = (async () => {
      do {
        again = false;
        await readOnce();
      } while (again && !scope.disposed);
    })().finally(() => {
      inFlight = null;
    });
    return inFlight;
  };

  /** A `<Dial>`ed leg's news (on its parent's channel): its line in the legs; once it ends, its cost
   * is written on its record, which the next reads bring. */
  const onLegMessage = (message) => {
    if (!call) return; // the first read lists the legs
    const before = (call.legs || []).find((leg) => leg.callSid === message.callSid);
    call = {...call, legs: mergeLegs(call.legs, [mergeLeg(before || {cost: null}, message)])};
    render();
    const leg = call.legs.find((item) => item.callSid === message.callSid);
    if (isTerminal(leg.status) && !isTerminal(before?.status)) reload();
  };

  const onEvent = (message) => {
    if (!message || scope.disposed) return;
    if (message.type === 'call' && message.parentCallSid === callSid && message.callSid !== callSid) {
      onLegMessage(message);
      return;
    }
    if (message.callSid !== callSid) return;
    if (message.type === 'segment') {
      if (transcript.upsert(message) !== 'same' && call) view.setAll(transcript.list());
      return;
    }
    if (message.type !== 'call') return;
    const before = call;
    call = mergeCall(call, message);
    if (before) render();
    const ended = before && before.live && !call.live;
    // the call feed sends the record's flags on every message: only news makes the page read the call
    const summarised = message.summaryReady && !before?.summary;
    const reconciled = message.reconciled && !before?.transcriptSource;
    const changed = summarised || reconciled || ended ||
      (message.transcriptStatus && message.transcriptStatus !== before?.transcriptStatus);
    if (changed) reload();
    if (reconciled && player.state === 'none') player.load();
  };

  const subscription = feed.subscribe(`/calls/${callSid}`, {
    onEvent,
    onReady: () => reload(),
    onError: (text) => replace(notice, h('p', {class: 'notice'}, `${text} The page shows what is stored; reload it for changes.`)),
  });
  const ticker = setInterval(() => {
    if (!call?.live) return;
    const cell = head.querySelector('[data-field=running]');
    if (cell) cell.textContent = formatDuration(elapsedSeconds(call.startedAt));
  }, 1000);
  scope.onDispose(() => {
    subscription.close();
    clearInterval(ticker);
    clearTimeout(settleTimer);
    view.dispose();
    player.dispose();
  });

  reload();
  return {};
}
