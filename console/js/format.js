// How values read on screen: times in the viewer's time zone, durations, money, numbers, labels.
// Pure functions (no DOM), so they read the same everywhere they are used.

const TERMINAL = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);
const RANK = {queued: 0, initiated: 1, ringing: 2, 'in-progress': 3};

/** The call status order the back end keeps (a status never moves back): terminal ones rank 4. */
export function statusRank(status) {
  if (TERMINAL.has(status)) return 4;
  return RANK[status] ?? -1;
}

export function isTerminal(status) {
  return TERMINAL.has(status);
}

const STATUS_LABELS = {
  queued: 'Queued',
  initiated: 'Dialling',
  ringing: 'Ringing',
  'in-progress': 'In progress',
  completed: 'Completed',
  busy: 'Busy',
  'no-answer': 'No answer',
  failed: 'Failed',
  canceled: 'Cancelled',
};

export function statusLabel(status) {
  return STATUS_LABELS[status] || (status ? String(status) : 'Unknown');
}

const ROUTE_LABELS = {
  forward: 'Forwarded', voicemail: 'Voicemail', agent: 'AI agent', listen: 'Listen-in', outbound: 'Outbound',
};

export function routeLabel(route) {
  return ROUTE_LABELS[route] || (route ? String(route) : '—');
}

const TRANSCRIPT_LABELS = {
  pending: 'Waiting',
  'in-progress': 'Live',
  completed: 'Complete',
  incomplete: 'Incomplete',
  failed: 'Failed',
};

export function transcriptLabel(status) {
  return TRANSCRIPT_LABELS[status] || (status ? String(status) : '—');
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const shortDateTime = new Intl.DateTimeFormat(undefined, {
  day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
});

/** "7 Dec 2026, 18:27:05" in the viewer's zone; '—' when unknown. */
export function formatDateTime(iso) {
  const date = iso ? new Date(iso) : null;
  return date && !Number.isNaN(date.getTime()) ? dateTime.format(date) : '—';
}

export function formatShortDateTime(iso) {
  const date = iso ? new Date(iso) : null;
  return date && !Number.isNaN(date.getTime()) ? shortDateTime.format(date) : '—';
}

/** Whole seconds as "0:42", "12:05" or "1:02:05". */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return '—';
  const total = Math.max(0, Math.round(Number(seconds)));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** Stream time of a segment, "1:07.4" style is too busy to read: "1:07". */
export function formatOffset(seconds) {
  return formatDuration(Math.floor(Number(seconds) || 0));
}

/** A spoken form for screen readers: "1 minute 7 seconds". */
export function spokenOffset(seconds) {
  const total = Math.max(0, Math.floor(Number(seconds) || 0));
  const m = Math.floor(total / 60);
  const s = total % 60;
  const parts = [];
  if (m) parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  parts.push(`${s} second${s === 1 ? '' : 's'}`);
  return parts.join(' ');
}

/** USD estimates are fractions of a cent: four decimals below a dollar, two above (and for nothing). */
export function formatUsd(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '—';
  const n = Number(value);
  return `$${n.toFixed(n !== 0 && Math.abs(n) < 1 ? 4 : 2)}`;
}

/** An amount in another currency than USD (what Twilio billed, in the account's unit): "0.0170 EUR". */
export function formatMoney(value, unit) {
  if (!unit || unit.toUpperCase() === 'USD') return formatUsd(value);
  if (value === null || value === undefined || Number.isNaN(Number(value))) return '—';
  const n = Number(value);
  return `${n.toFixed(n !== 0 && Math.abs(n) < 1 ? 4 : 2)} ${unit.toUpperCase()}`;
}

export function formatMinutes(value) {
  if (value === null || value === undefined) return '';
  const n = Number(value);
  return `${Number.isInteger(n) ? n : n.toFixed(2)} min`;
}

export function formatPercent(fraction) {
  if (fraction === null || fraction === undefined) return '—';
  return `${Math.round(Number(fraction) * 100)}%`;
}

/** E.164 as written, North American numbers grouped for reading: "+1 415 555 0100". */
export function formatNumber(e164) {
  if (!e164) return '—';
  const nanp = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(e164);
  return nanp ? `+1 ${nanp[1]} ${nanp[2]} ${nanp[3]}` : String(e164);
}

/** "caller" → "Caller"; "agent" → "Agent". */
export function speakerLabel(speaker, track) {
  const who = speaker || track || 'unknown';
  return who.charAt(0).toUpperCase() + who.slice(1);
}

/** Seconds since `iso` until `now` (ms), for a live call's running time. */
export function elapsedSeconds(iso, now = Date.now()) {
  const started = iso ? new Date(iso).getTime() : NaN;
  return Number.isNaN(started) ? null : Math.max(0, (now - started) / 1000);
}
