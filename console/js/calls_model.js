// The call list's rules, with no DOM: filters (from the page's address, to the API's parameters, and
// checked on calls the feed announces), merging a feed message into a call (or one of its legs)
// without moving its status back, and which calls are live. Kept pure so the pages only render.

import {isTerminal, statusRank} from './format.js';

export const STATUSES = ['ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled'];
export const ROUTES = ['forward', 'voicemail', 'agent', 'listen', 'outbound']; // the stored `route` of a call
export const E164 = /^\+[1-9]\d{1,14}$/;
export const DEFAULT_DAYS = 30; // the list without dates: today and the days before it, this many in all
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The filters in the address (`#/?status=completed&route=forward`); invalid values are dropped. */
export function filtersFromQuery(params) {
  const pick = (name, ok) => {
    const value = (params.get(name) || '').trim();
    return value && ok(value) ? value : '';
  };
  return {
    from: pick('from', (v) => DATE.test(v)),
    to: pick('to', (v) => DATE.test(v)),
    status: pick('status', (v) => STATUSES.includes(v)),
    route: pick('route', (v) => ROUTES.includes(v)),
    number: pick('number', (v) => E164.test(v)),
  };
}

export function hasFilters(filters) {
  return Object.values(filters).some(Boolean);
}

/** Local calendar day → the UTC instant it starts (the viewer picks days in their own zone). */
function dayStart(date, plusDays = 0) {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(y, m - 1, d + plusDays);
}

/**
 * The API's query: `from` at the start of the first day, `to` at the end of the last, in UTC. Without
 * dates, the last DEFAULT_DAYS days (asked for explicitly: the page says what it shows).
 */
export function apiParams(filters, now = new Date()) {
  const defaultFrom = new Date(now.getFullYear(), now.getMonth(), now.getDate() - (DEFAULT_DAYS - 1));
  return {
    from: filters.from ? dayStart(filters.from).toISOString() : filters.to ? '' : defaultFrom.toISOString(),
    to: filters.to ? new Date(dayStart(filters.to, 1).getTime() - 1).toISOString() : '',
    status: filters.status,
    route: filters.route,
    number: filters.number,
  };
}

/** Whether a call (from the feed or the live list) belongs in a list filtered by `filters`. */
export function matches(call, filters) {
  if (filters.status && call.status !== filters.status) return false;
  if (filters.route && call.route !== filters.route) return false;
  if (filters.number) {
    const ours = ourNumber(call);
    if (ours ? ours !== filters.number : call.to !== filters.number && call.from !== filters.number) return false;
  }
  const started = call.startedAt ? new Date(call.startedAt).getTime() : null;
  const range = apiParams(filters);
  if (started !== null && range.from && started < new Date(range.from).getTime()) return false;
  if (started !== null && range.to && started > new Date(range.to).getTime()) return false;
  return true;
}

/** The product's own number on a call: the called number inbound, the caller ID outbound. */
export function ourNumber(call) {
  if (call.direction === 'inbound') return call.to;
  if (String(call.direction || '').startsWith('outbound')) return call.from;
  return null;
}

export function isLive(call) {
  if (call.status) return !isTerminal(call.status);
  return Boolean(call.live);
}

/**
 * A call with what a newer message says about it. Fields the message lacks are kept; the status
 * never moves back (a feed message and an API read may arrive in either order).
 */
export function mergeCall(current, update) {
  const merged = {...(current || {})};
  for (const [key, value] of Object.entries(update)) {
    if (value === undefined || key === 'type' || key === 'at') continue;
    if (key === 'status' && current && statusRank(current.status) > statusRank(value)) continue;
    merged[key] = value;
  }
  merged.live = isLive(merged);
  return merged;
}

const LEG_FIELDS = ['callSid', 'direction', 'to', 'status', 'durationSeconds', 'cost'];

/** A `<Dial>`ed leg with what a newer message or read says of it: its status never moves back, and a
 * field the update lacks (absent or null) keeps its value. */
export function mergeLeg(current, update) {
  const merged = {...(current || {})};
  for (const key of LEG_FIELDS) {
    const value = update[key];
    if (value === undefined || (value === null && merged[key] !== undefined && merged[key] !== null)) continue;
    if (key === 'status' && statusRank(merged.status) > statusRank(value)) continue;
    merged[key] = value;
  }
  return merged;
}

/** The legs a read of the call answered, merged into those shown (a leg the feed named first stays). */
export function mergeLegs(shown, read) {
  const bySid = new Map((shown || []).map((leg) => [leg.callSid, leg]));
  const merged = (read || []).map((leg) => mergeLeg(bySid.get(leg.callSid), leg));
  const listed = new Set(merged.map((leg) => leg.callSid));
  return merged.concat((shown || []).filter((leg) => !listed.has(leg.callSid)));
}

/** Newest first, by `startedAt` (calls without one last), then by SID for a stable order. */
export function newestFirst(a, b) {
  const ta = a.startedAt ? new Date(a.startedAt).getTime() : -Infinity;
  const tb = b.startedAt ? new Date(b.startedAt).getTime() : -Infinity;
  if (ta !== tb) return tb - ta;
  return a.callSid < b.callSid ? 1 : a.callSid > b.callSid ? -1 : 0;
}
