// The side of a call's page: the summary (`[data-testid=summary]`), the evaluation answers, the cost
// with its parts (`[data-testid=cost-total]`) and, once read, what Twilio billed beside the estimate
// (`cost.billed`), and the legs of a forwarded call. Each renders from the call record alone, with a
// plain sentence while the part is not there yet.

import {h} from '../dom.js';
import {
  formatDateTime, formatDuration, formatMinutes, formatMoney, formatNumber, formatUsd, isTerminal,
} from '../format.js';
import {statusPill} from './common.js';

const OUTCOMES = {
  resolved: 'Resolved', unresolved: 'Unresolved', follow_up_scheduled: 'Follow-up scheduled', transferred: 'Transferred',
  voicemail: 'Voicemail', abandoned: 'Abandoned', no_conversation: 'No conversation', other: 'Other',
};
const OWNERS = {caller: 'Caller', agent: 'Agent', callee: 'Callee', unknown: 'Someone'};

function label(value, names) {
  return names[value] || (value ? String(value).replace(/_/g, ' ') : '—');
}

function capitalised(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function summarySection(call) {
  const summary = call.summary;
  if (!summary) {
    let text = 'The summary is written once the call has ended and its transcript is complete.';
    if (call.summaryStatus === 'failed') text = 'The summary could not be written for this call.';
    else if (call.status && !call.live && call.transcriptStatus === 'completed') text = 'Writing the summary…';
    return h('p', {class: 'muted'}, text);
  }
  const facts = [
    ['Why they called', summary.caller_intent],
    ['Outcome', label(summary.outcome, OUTCOMES)],
    ['Sentiment', summary.sentiment ? capitalised(label(summary.sentiment, {})) : null],
    ['Follow-up needed', summary.follow_up_needed === undefined ? null : summary.follow_up_needed ? 'Yes' : 'No'],
  ].filter(([, value]) => value);
  return h('div', {class: 'summary', 'data-testid': 'summary'},
    h('p', {class: 'summary-text'}, summary.summary || ''),
    facts.length ? h('dl', {class: 'facts'}, facts.map(([term, value]) => [h('dt', null, term), h('dd', null, value)])) : null,
    summary.topics?.length ? h('ul', {class: 'chips', 'aria-label': 'Topics'}, summary.topics.map((t) => h('li', {class: 'chip'}, t))) : null,
    summary.action_items?.length ? [h('h3', null, 'Action items'),
      h('ul', {class: 'actions'}, summary.action_items.map((item) =>
        h('li', null, h('span', {class: 'owner'}, label(item.owner, OWNERS)), ' ', item.description)))] : null,
    h('p', {class: 'fineprint'}, `Written by ${summary.model || 'the model'}${summary.segment_count ? ` from ${summary.segment_count} lines` : ''}.`));
}

const ANSWERED_BY = {offline: 'the offline stand-in (no language model)', none: 'nobody: the call had no speech'};

function answerText(answer) {
  if (answer.answer === undefined || answer.answer === null || answer.answer === '') return h('span', {class: 'muted'}, 'Could not tell');
  if (answer.type === 'yes_no') {
    const yes = answer.answer === 'yes';
    return h('span', {class: `answer ${yes ? 'yes' : 'no'}`}, yes ? 'Yes' : 'No');
  }
  return h('span', {class: 'answer'}, String(answer.answer).replace(/_/g, ' '));
}

export function evaluationsSection(call) {
  const answers = call.evaluations;
  if (!Array.isArray(answers) || !answers.length) {
    return h('p', {class: 'muted'}, call.summary ? 'No evaluation questions apply to this call.' : 'Answered with the summary, once the call has ended.');
  }
  const by = [...new Set(answers.map((a) => ANSWERED_BY[a.answered_by] || a.answered_by).filter(Boolean))];
  return h('div', {class: 'evaluations', 'data-testid': 'evaluations'},
    h('dl', {class: 'qa'}, answers.map((a) => [h('dt', null, a.question || a.id), h('dd', null, answerText(a))])),
    by.length ? h('p', {class: 'fineprint'}, `Answered by ${by.join(', ')}.`) : null);
}

const COST_PARTS = [
  ['twilioVoiceUsd', 'Twilio voice', 'voiceMinutes'],
  ['twilioRecordingUsd', 'Twilio recording', 'recordingMinutes'],
  ['deepgramLiveUsd', 'Deepgram live transcription', 'liveTrackMinutes'],
  ['deepgramPrerecordedUsd', 'Deepgram recording transcription', 'prerecordedMinutes'],
  ['claudeUsd', 'Claude summary', null],
  ['ttsUsd', 'Agent speech (TTS)', null],
];

function money(value) {
  return h('span', {'data-value': value ?? ''}, formatUsd(value));
}

export function costSection(call) {
  const cost = call.cost;
  if (!cost) return h('p', {class: 'muted'}, 'The cost is estimated once the call has ended.');
  const rows = COST_PARTS.filter(([key]) => cost[key] !== null && cost[key] !== undefined).map(([key, name, minutes]) =>
    h('tr', null,
      h('th', {scope: 'row'}, name, minutes && cost[minutes] !== null && cost[minutes] !== undefined
        ? h('span', {class: 'sub'}, formatMinutes(cost[minutes])) : null),
      h('td', {class: 'num'}, money(cost[key]))));
  const legs = call.legs || [];
  const withLegs = legs.length && call.conversationCostUsd !== null && call.conversationCostUsd !== undefined;
  return h('div', {class: 'cost'},
    h('table', {class: 'cost-table'},
      h('caption', {class: 'sr-only'}, 'Cost of this call by part'),
      h('tbody', null, rows),
      h('tfoot', null, h('tr', null, h('th', {scope: 'row'}, 'This call'),
        h('td', {class: 'num total', 'data-testid': 'cost-total', 'data-value': cost.totalUsd}, formatUsd(cost.totalUsd))),
      withLegs ? h('tr', null, h('th', {scope: 'row'}, 'With its legs'),
        h('td', {class: 'num', 'data-testid': 'conversation-cost'}, money(call.conversationCostUsd))) : null)),
    h('p', {class: 'fineprint'}, `An estimate from list prices${cost.pricesAsOf ? ` as of ${cost.pricesAsOf}` : ''}.`),
    billedSection(cost));
}

const BILLED_PARTS = [['twilioVoice', 'Voice', 'twilioVoiceUsd'], ['twilioRecording', 'Recording', 'twilioRecordingUsd']];

/** What Twilio billed for its share (its REST API's price, read after the call), beside the estimate of
 * the same parts; nothing until it has been read. */
function billedSection(cost) {
  const billed = cost.billed;
  if (!billed) return null;
  const unit = billed.priceUnit || 'USD';
  const known = (value) => value !== null && value !== undefined;
  const parts = BILLED_PARTS.filter(([key]) => known(billed[key]));
  const estimate = parts.reduce((sum, [, , estimated]) => sum + Number(cost[estimated] || 0), 0);
  let comparison = '';
  if (known(billed.total) && unit.toUpperCase() === 'USD' && Number(billed.total) > 0) {
    const off = Math.round(((estimate - Number(billed.total)) / Number(billed.total)) * 100);
    const how = off === 0 ? 'the same as the bill' : `${Math.abs(off)}% ${off > 0 ? 'above' : 'below'} the bill`;
    comparison = ` The estimate of these parts is ${formatUsd(estimate)}, ${how}.`;
  }
  return h('div', {class: 'billed'},
    h('h3', null, 'Billed by Twilio'),
    h('table', {class: 'cost-table'},
      h('caption', {class: 'sr-only'}, 'What Twilio billed for this call'),
      h('tbody', null, parts.map(([key, name]) => h('tr', null,
        h('th', {scope: 'row'}, name), h('td', {class: 'num'}, formatMoney(billed[key], unit))))),
      h('tfoot', null, h('tr', null, h('th', {scope: 'row'}, 'Twilio in all'),
        h('td', {class: 'num total', 'data-testid': 'billed-total', 'data-value': billed.total ?? ''},
          known(billed.total) ? formatMoney(billed.total, unit) : 'Not complete yet')))),
    h('p', {class: 'fineprint'},
      `Twilio's own price for its share${billed.readAt ? `, read ${formatDateTime(billed.readAt)}` : ''}; not in the total above.${comparison}`));
}

export function legsSection(call) {
  const legs = call.legs || [];
  if (!legs.length) return null;
  return h('ul', {class: 'legs', 'data-testid': 'legs'}, legs.map((leg) => h('li', {'data-leg-sid': leg.callSid},
    h('div', {class: 'leg-line'},
      h('span', {class: 'leg-to'}, formatNumber(leg.to)),
      statusPill(leg.status, {field: false})),
    h('div', {class: 'leg-line sub'},
      h('span', null, legFacts(leg)),
      h('code', {class: 'mono leg-sid', title: leg.callSid}, leg.callSid)))));
}

/** "1:30 · $0.0127": what is known of a leg's length and cost (nothing while it rings). */
function legFacts(leg) {
  const known = (value) => value !== null && value !== undefined;
  const facts = [];
  if (known(leg.durationSeconds)) facts.push(formatDuration(leg.durationSeconds));
  if (known(leg.cost?.totalUsd)) facts.push(formatUsd(leg.cost.totalUsd));
  else if (isTerminal(leg.status)) facts.push('cost not estimated yet');
  return facts.join(' · ');
}
