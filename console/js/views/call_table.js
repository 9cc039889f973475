// A table of calls whose rows are kept, not rebuilt, when calls change: a row's cells are updated in
// place and rows move only when the order changes, so focus and reading position survive live updates.
// Each row is `tr[data-testid=call-row][data-call-sid]` with its status in `[data-field=status]`.

import {h, replace} from '../dom.js';
import {
  elapsedSeconds, formatDuration, formatNumber, formatShortDateTime, formatUsd, routeLabel, transcriptLabel,
} from '../format.js';
import {callHash} from '../router.js';
import {statusPill} from './common.js';

const DIRECTIONS = {inbound: 'Inbound', 'outbound-api': 'Outbound', 'outbound-dial': 'Outbound', outbound: 'Outbound'};

function callCell(call) {
  const inbound = call.direction === 'inbound';
  const them = inbound ? call.from : call.to;
  const ours = inbound ? call.to : call.from;
  return [
    h('a', {href: callHash(call.callSid), class: 'call-link'}, formatNumber(them)),
    h('span', {class: 'sub'}, `${DIRECTIONS[call.direction] || 'Call'}${ours ? ` · ${inbound ? 'to' : 'from'} ${formatNumber(ours)}` : ''}`),
  ];
}

function timeCell(iso) {
  return iso ? h('time', {datetime: iso}, formatShortDateTime(iso)) : '—';
}

export class CallTable {
  /** `live`: a running-time column instead of duration, transcript and cost. */
  constructor({caption, live = false}) {
    this.live = live;
    this.rows = new Map(); // callSid -> {tr, call, key}
    const headers = live
      ? ['Started', 'Call', 'Route', 'Status', 'Running']
      : ['Started', 'Call', 'Route', 'Status', 'Duration', 'Transcript', 'Cost'];
    this.body = h('tbody');
    this.table = h('table', {class: `calls ${live ? 'calls-live' : ''}`},
      h('caption', {class: 'sr-only'}, caption),
      h('thead', null, h('tr', null, headers.map((text, i) => h('th', {scope: 'col', class: i >= 4 ? 'num' : null}, text)))),
      this.body);
    this.el = h('div', {class: 'table-wrap'}, this.table);
    this.body.addEventListener('click', (event) => {
      // the whole row opens the call for pointer users; the link in it is the keyboard's way
      if (event.target.closest('a, button') || window.getSelection()?.toString()) return;
      const row = event.target.closest('tr[data-call-sid]');
      if (row) location.hash = callHash(row.dataset.callSid);
    });
  }

  get size() {
    return this.rows.size;
  }

  set(calls) {
    const wanted = new Set(calls.map((c) => c.callSid));
    for (const [sid, row] of this.rows) {
      if (!wanted.has(sid)) {
        row.tr.remove();
        this.rows.delete(sid);
      }
    }
    let cursor = this.body.firstElementChild;
    for (const call of calls) {
      let row = this.rows.get(call.callSid);
      const key = JSON.stringify(call);
      if (!row) {
        row = {tr: h('tr', {'data-testid': 'call-row', 'data-call-sid': call.callSid, class: 'clickable'}), key: null};
        this.rows.set(call.callSid, row);
      }
      if (row.key !== key) {
        this._fill(row.tr, call);
        row.key = key;
      }
      row.call = call;
      if (row.tr !== cursor) this.body.insertBefore(row.tr, cursor);
      else cursor = cursor.nextElementSibling;
    }
    this.tick();
  }

  /** Running times of live calls, once a second. */
  tick(now = Date.now()) {
    if (!this.live) return;
    for (const {tr, call} of this.rows.values()) {
      const cell = tr.querySelector('[data-field=running]');
      if (cell) cell.textContent = formatDuration(elapsedSeconds(call.startedAt, now));
    }
  }

  _fill(tr, call) {
    tr.dataset.status = call.status || '';
    const cells = [
      h('td', {'data-field': 'started'}, timeCell(call.startedAt)),
      h('td', {'data-field': 'call', class: 'call-cell'}, callCell(call)),
      h('td', {'data-field': 'route'}, routeLabel(call.route)),
      h('td', null, statusPill(call.status)),
    ];
    if (this.live) {
      cells.push(h('td', {'data-field': 'running', class: 'num'}, ''));
    } else {
      cells.push(
        h('td', {'data-field': 'duration', class: 'num'}, formatDuration(call.durationSeconds)),
        h('td', {'data-field': 'transcript', class: 'num'}, transcriptLabel(call.transcriptStatus)),
        h('td', {'data-field': 'cost', class: 'num'}, formatUsd(call.costTotal ?? call.cost?.totalUsd)));
    }
    replace(tr, cells);
  }
}
