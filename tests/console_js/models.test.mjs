// The console's pure rules: merging a transcript from two sources, ordering it, the player's time of
// a segment; merging call messages without moving a status back; filters.
import {test} from 'node:test';
import assert from 'node:assert/strict';

import {
  apiParams, filtersFromQuery, matches, mergeCall, mergeLeg, mergeLegs, newestFirst, ROUTES,
} from '../../console/js/calls_model.js';
import {formatDuration, formatMoney, formatUsd, routeLabel} from '../../console/js/format.js';
import {seekTime, segmentKey, Transcript} from '../../console/js/transcript_model.js';

const seg = (start, track, text, extra = {}) => ({
  segmentId: `${String(Math.round(start * 1000)).padStart(10, '0')}#${track}`, track, start, end: start + 1, text,
  speaker: track === 'inbound' ? 'caller' : 'callee', source: 'live', ...extra,
});

test('a segment from the API and the feed, or twice from either, is kept once', () => {
  const transcript = new Transcript();
  assert.equal(transcript.upsert(seg(1, 'inbound', 'hello')), 'added');
  assert.equal(transcript.upsert({...seg(1, 'inbound', 'hello'), type: 'segment', callSid: 'CA1'}), 'same');
  assert.equal(transcript.upsert(seg(1, 'inbound', 'hello there')), 'changed');
  assert.equal(transcript.size, 1);
  assert.equal(transcript.list()[0].text, 'hello there');
});

test('the order is stream time, then track, then live before recording', () => {
  const transcript = new Transcript();
  transcript.upsert(seg(5, 'outbound', 'c'));
  transcript.upsert({...seg(2, 'inbound', 'b-rec'), segmentId: '0000002000#inbound#r', source: 'recording'});
  transcript.upsert(seg(2, 'outbound', 'b-out'));
  transcript.upsert(seg(2, 'inbound', 'b'));
  transcript.upsert(seg(0.5, 'outbound', 'a'));
  assert.deepEqual(transcript.list().map((s) => s.text), ['a', 'b', 'b-rec', 'b-out', 'c']);
});

test('an older API without segmentId gets the store key', () => {
  assert.equal(segmentKey({start: 1.2345, track: 'inbound'}), '0000001235#inbound');
  assert.equal(segmentKey({start: 2, track: 'outbound', source: 'recording'}), '0000002000#outbound#r');
});

test('the player time is stream time minus the recording offset, never negative', () => {
  assert.equal(seekTime(15.8, 2.37), 13.43);
  assert.equal(seekTime(1.0, 2.37), 0);
  const transcript = new Transcript();
  transcript.upsert(seg(10, 'inbound', 'x'));
  transcript.upsert(seg(10.5, 'outbound', 'y'));
  assert.deepEqual(transcript.activeAt(7.5, 2.37), []); // before both
  assert.deepEqual(transcript.activeAt(8.2, 2.37).map((k) => k.split('#')[1]), ['inbound', 'outbound']); // they overlap
  assert.deepEqual(transcript.activeAt(8.7, 2.37).map((k) => k.split('#')[1]), ['outbound']);
});

test('a call message never moves the status back, and keeps what it does not say', () => {
  const call = {callSid: 'CA1', status: 'in-progress', from: '+1415', route: 'forward'};
  const stale = mergeCall(call, {type: 'call', callSid: 'CA1', status: 'ringing', at: 'x'});
  assert.equal(stale.status, 'in-progress');
  assert.equal(stale.from, '+1415');
  assert.equal(stale.live, true);
  assert.equal('type' in stale, false);
  const ended = mergeCall(stale, {callSid: 'CA1', status: 'completed', durationSeconds: 9});
  assert.equal(ended.live, false);
  assert.equal(mergeCall(ended, {status: 'in-progress'}).status, 'completed');
});

test('filters read from the address drop what is not valid', () => {
  const filters = filtersFromQuery(new URLSearchParams('status=completed&route=nope&number=555&from=2026-12-01&to=x'));
  assert.deepEqual(filters, {from: '2026-12-01', to: '', status: 'completed', route: '', number: ''});
});

test('the date range covers whole local days', () => {
  const {from, to} = apiParams({from: '2026-12-01', to: '2026-12-02'});
  assert.equal(new Date(from).getTime(), new Date(2026, 11, 1).getTime());
  assert.equal(new Date(to).getTime(), new Date(2026, 11, 3).getTime() - 1);
  const call = {status: 'completed', direction: 'inbound', to: '+14155550100', startedAt: new Date(2026, 11, 2, 23, 59).toISOString()};
  assert.equal(matches(call, {from: '2026-12-01', to: '2026-12-02', status: '', route: '', number: '+14155550100'}), true);
  assert.equal(matches(call, {from: '2026-12-03', to: '', status: '', route: '', number: ''}), false);
  assert.equal(matches({...call, direction: 'outbound-api', from: '+14155550100', to: '+1999'},
    {from: '', to: '', status: '', route: '', number: '+14155550100'}), true);
});

test('without dates the list asks for the last 30 days, from the start of a local day', () => {
  const now = new Date(2026, 11, 7, 15, 30);
  assert.equal(apiParams({from: '', to: '', status: '', route: '', number: ''}, now).from, new Date(2026, 10, 8).toISOString());
  assert.equal(apiParams({from: '', to: '2026-12-01', status: '', route: '', number: ''}, now).from, '');
});

test('newest first, by start time', () => {
  const calls = [{callSid: 'a', startedAt: '2026-12-01T10:00:00Z'}, {callSid: 'b', startedAt: '2026-12-01T11:00:00Z'}, {callSid: 'c'}];
  assert.deepEqual(calls.sort(newestFirst).map((c) => c.callSid), ['b', 'a', 'c']);
});

test('durations and money read as people expect', () => {
  assert.equal(formatDuration(42), '0:42');
  assert.equal(formatDuration(3725), '1:02:05');
  assert.equal(formatDuration(null), '—');
  assert.equal(formatUsd(0.0421), '$0.0421');
  assert.equal(formatUsd(12.5), '$12.50');
});

test("a leg's status never moves back, and what a message lacks is kept", () => {
  const leg = {callSid: 'CA2', direction: 'outbound-dial', to: '+14155550199', status: 'in-progress', durationSeconds: null, cost: null};
  const message = {type: 'call', callSid: 'CA2', parentCallSid: 'CA1', status: 'ringing', route: 'forward', at: 'x'};
  assert.deepEqual(mergeLeg(leg, message), leg);
  const ended = mergeLeg(leg, {...message, status: 'completed', durationSeconds: 90});
  assert.equal(ended.status, 'completed');
  assert.equal(ended.durationSeconds, 90);
  assert.equal(ended.to, '+14155550199');
  assert.equal('route' in ended, false); // only a leg's own fields
});

test('a read of the call keeps a leg the feed named first, and its newer status', () => {
  const shown = [{callSid: 'CA2', status: 'completed', durationSeconds: 90, cost: null}, {callSid: 'CA3', status: 'ringing'}];
  const read = [{callSid: 'CA2', status: 'in-progress', durationSeconds: null, cost: {totalUsd: 0.0127}}];
  assert.deepEqual(mergeLegs(shown, read), [
    {callSid: 'CA2', status: 'completed', durationSeconds: 90, cost: {totalUsd: 0.0127}},
    {callSid: 'CA3', status: 'ringing'},
  ]);
  assert.deepEqual(mergeLegs(undefined, read), [read[0]]);
});

test('every route kind has a filter and a label, listen-in included', () => {
  assert.deepEqual(ROUTES, ['forward', 'voicemail', 'agent', 'listen', 'outbound']);
  assert.equal(routeLabel('listen'), 'Listen-in');
  assert.equal(routeLabel('something-new'), 'something-new');
});

test('a bill in another currency is shown in it', () => {
  assert.equal(formatMoney(0.017, 'USD'), '$0.0170');
  assert.equal(formatMoney(0.017, 'eur'), '0.0170 EUR');
  assert.equal(formatMoney(null, 'EUR'), '—');
  assert.equal(formatUsd(0), '$0.00'); // nothing, not four decimals of it
  assert.equal(formatMoney(0, 'EUR'), '0.00 EUR');
});
