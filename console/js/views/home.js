// The home page (#/): the live board (calls in progress, from `GET /calls?live=true`, kept current by
// the feed's `/calls/live` channel) first, then the call list with its filters, newest first and
// paged with `nextCursor`. A call is shown once: on the board while live, in the list once it ends.
// Each time the feed (re)subscribes, the board and the list's first page are read again, so what
// happened while the feed was away is not missed.

import {
  apiParams, DEFAULT_DAYS, E164, filtersFromQuery, hasFilters, isLive, matches, mergeCall, newestFirst, ROUTES, STATUSES,
} from '../calls_model.js';
import {h, replace} from '../dom.js';
import {routeLabel, statusLabel} from '../format.js';
import {ApiError} from '../api.js';
import {SessionEnded} from '../auth.js';
import {homeHash} from '../router.js';
import {CallTable} from './call_table.js';
import {emptyState, errorState, loadingState, pageHeading} from './common.js';

const PAGE_SIZE = 25;
const EMPTY_PAGE_HOPS = 10; // pages the API may answer empty (days without calls) before one with calls
const FINAL_TRANSCRIPT = new Set(['completed', 'incomplete', 'failed']);

function select(name, label, options, value) {
  return h('div', {class: 'field'},
    h('label', {for: `filter-${name}`}, label),
    h('select', {id: `filter-${name}`, name},
      h('option', {value: ''}, 'Any'),
      options.map(([v, text]) => h('option', {value: v, selected: v === value}, text))));
}

function filterForm(filters, onApply) {
  const numberError = h('p', {class: 'field-error', id: 'filter-number-error', hidden: true});
  const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'Filter calls'},
    h('div', {class: 'field'}, h('label', {for: 'filter-from'}, 'From'),
      h('input', {id: 'filter-from', name: 'from', type: 'date', value: filters.from})),
    h('div', {class: 'field'}, h('label', {for: 'filter-to'}, 'To'),
      h('input', {id: 'filter-to', name: 'to', type: 'date', value: filters.to})),
    select('status', 'Status', STATUSES.map((s) => [s, statusLabel(s)]), filters.status),
    select('route', 'Route', ROUTES.map((r) => [r, routeLabel(r)]), filters.route),
    h('div', {class: 'field field-number'}, h('label', {for: 'filter-number'}, 'Our number'),
      h('input', {id: 'filter-number', name: 'number', type: 'text', inputmode: 'tel', value: filters.number,
        placeholder: '+14155550100', autocomplete: 'off', 'aria-describedby': 'filter-number-error'}),
      numberError),
    h('div', {class: 'filter-actions'},
      h('button', {type: 'submit', class: 'button primary'}, 'Apply'),
      h('button', {type: 'button', class: 'button ghost', 'data-action': 'clear'}, 'Clear')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const number = form.elements.number.value.replace(/[\s()-]/g, '');
    if (number && !E164.test(number)) {
      numberError.textContent = 'Enter the number in international format, e.g. +14155550100.';
      numberError.hidden = false;
      form.elements.number.setAttribute('aria-invalid', 'true');
      form.elements.number.focus();
      return;
    }
    numberError.hidden = true;
    form.elements.number.removeAttribute('aria-invalid');
    const from = form.elements.from.value;
    let to = form.elements.to.value;
    if (from && to && to < from) to = from;
    onApply({from, to, status: form.elements.status.value, route: form.elements.route.value, number});
  });
  form.querySelector('[data-action=clear]').addEventListener('click', () => {
    form.reset();
    for (const el of form.elements) if ('value' in el && el.tagName !== 'BUTTON') el.value = '';
    onApply({});
  });
  return form;
}

export function renderHome(main, {api, feed, route, scope}) {
  let filters = filtersFromQuery(route.query);
  const live = new Map(); // callSid -> call on the board
  let list = []; // the list's calls, newest first (live ones are shown on the board instead)
  let nextCursor = null;
  let listLoad = null; // AbortController of the list request in flight
  let liveLoad = null;

  const liveTable = new CallTable({caption: 'Calls in progress', live: true});
  const listTable = new CallTable({caption: 'Calls, newest first'});
  const liveCount = h('span', {class: 'count', 'aria-hidden': 'true'}, '');
  const liveBody = h('div', {class: 'panel-body'}, loadingState('Loading calls in progress…'));
  const listBody = h('div', {class: 'panel-body'}, loadingState('Loading calls…'));
  const listSummary = h('p', {class: 'list-summary muted', role: 'status'});
  const moreButton = h('button', {type: 'button', class: 'button', hidden: true}, 'Show older calls');
  let exhausted = false; // the last "show older" found nothing more in the range
  const form = filterForm(filters, (next) => {
    const hash = homeHash(next);
    if (hash === (location.hash || '#/')) reloadAll(); // the same filters: Apply reads again
    else location.hash = hash;
  });

  replace(main, h('section', {class: 'page'},
    h('div', {class: 'page-head'}, pageHeading('Calls'),
      h('p', {class: 'muted'}, 'Calls in progress are shown first and update as they happen.')),
    h('section', {class: 'panel', 'aria-labelledby': 'live-heading'},
      h('div', {class: 'panel-head'}, h('h2', {id: 'live-heading'}, h('span', {class: 'live-dot', 'aria-hidden': 'true'}), 'Live now'), liveCount),
      liveBody),
    h('section', {class: 'panel', 'aria-labelledby': 'list-heading'},
      h('div', {class: 'panel-head'}, h('h2', {id: 'list-heading'}, 'All calls')),
      form,
      listBody,
      h('div', {class: 'panel-foot'}, listSummary, moreButton))));
  document.title = 'Calls · callscribe';

  const renderLive = () => {
    const calls = [...live.values()].sort(newestFirst);
    liveCount.textContent = calls.length ? String(calls.length) : '';
    liveTable.set(calls);
    if (calls.length) {
      if (liveTable.el.parentNode !== liveBody) replace(liveBody, liveTable.el);
    } else {
      replace(liveBody, emptyState(hasFilters(filters) ? 'No call in progress matches these filters.' : 'No calls in progress.',
        'Calls appear here the moment they start.'));
    }
  };

  const renderList = () => {
    const calls = list.filter((c) => !live.has(c.callSid));
    listTable.set(calls);
    moreButton.hidden = !nextCursor;
    if (calls.length) {
      if (listTable.el.parentNode !== listBody) replace(listBody, listTable.el);
      const range = filters.from || filters.to ? '' : ` From the last ${DEFAULT_DAYS} days: choose dates to look further back.`;
      const end = exhausted ? ' No older calls in this range.' : '';
      listSummary.textContent = `${calls.length} call${calls.length === 1 ? '' : 's'} shown.${end}${range}`;
    } else if (hasFilters(filters)) {
      const clear = h('button', {type: 'button', class: 'button', onclick: () => { location.hash = homeHash({}); }}, 'Clear filters');
      replace(listBody, h('div', null, emptyState('No calls match these filters.', 'Try a wider date range or fewer filters.'), clear));
      listSummary.textContent = '';
    } else {
      replace(listBody, emptyState('No calls yet.',
        `Nothing in the last ${DEFAULT_DAYS} days. Calls are listed here, newest first; choose dates to look further back.`));
      listSummary.textContent = '';
    }
  };

  const failed = (body, error, retry) => {
    if (error instanceof SessionEnded || error.name === 'AbortError' || scope.disposed) return;
    const message = error instanceof ApiError ? error.message : 'Something went wrong loading calls.';
    replace(body, errorState(message, retry));
  };

  const loadLive = async () => {
    liveLoad?.abort();
    const controller = (liveLoad = new AbortController());
    scope.signal.addEventListener('abort', () => controller.abort(), {once: true});
    try {
      const page = await api.liveCalls({signal: controller.signal});
      if (controller.signal.aborted) return;
      const fresh = new Map();
      for (const call of page.calls || []) {
        const merged = mergeCall(live.get(call.callSid), call);
        if (isLive(merged) && matches(merged, filters)) fresh.set(call.callSid, merged);
      }
      live.clear();
      for (const [sid, call] of fresh) live.set(sid, call);
      renderLive();
      renderList();
    } catch (error) {
      failed(liveBody, error, loadLive);
    }
  };

  const loadList = async ({more = false} = {}) => {
    listLoad?.abort();
    const controller = (listLoad = new AbortController());
    scope.signal.addEventListener('abort', () => controller.abort(), {once: true});
    if (!more) replace(listBody, loadingState('Loading calls…'));
    moreButton.disabled = true;
    try {
      const params = apiParams(filters);
      let page = await api.listCalls(params, more ? nextCursor : null, {signal: controller.signal, limit: PAGE_SIZE});
      // the API pages day by day: a page can be empty and still point further back
      for (let hop = 0; !(page.calls || []).length && page.nextCursor && hop < EMPTY_PAGE_HOPS; hop += 1) {
        page = await api.listCalls(params, page.nextCursor, {signal: controller.signal, limit: PAGE_SIZE});
      }
      if (controller.signal.aborted) return;
      const incoming = page.calls || [];
      if (more) {
        const known = new Set(list.map((c) => c.callSid));
        list = list.concat(incoming.filter((c) => !known.has(c.callSid)));
      } else {
        list = incoming;
      }
      nextCursor = page.nextCursor || null;
      // the API cannot tell ahead that the days left hold nothing: say so once a look found nothing
      exhausted = more && !incoming.length && !nextCursor;
      renderList();
    } catch (error) {
      failed(listBody, error, () => loadList({more}));
    } finally {
      moreButton.disabled = false;
    }
  };

  /** The list's first page again, merged in place (after the feed was away): paging is kept. */
  const refreshFirstPage = async () => {
    try {
      const page = await api.listCalls(apiParams(filters), null, {signal: scope.signal, limit: PAGE_SIZE});
      const bySid = new Map(list.map((c) => [c.callSid, c]));
      for (const call of page.calls || []) bySid.set(call.callSid, mergeCall(bySid.get(call.callSid), call));
      list = [...bySid.values()].sort(newestFirst);
      if (!list.length) nextCursor = page.nextCursor || null;
      renderList();
    } catch (error) {
      failed(listBody, error, () => loadList());
    }
  };

  let detailsTimer = null;
  let endedTimer = null;
  /** Its stream ended, so the call most likely did: ask the API (again, a few times, until it says so). */
  const confirmEnded = (sid, attempt) => {
    clearTimeout(endedTimer);
    endedTimer = setTimeout(async () => {
      await loadLive();
      await refreshFirstPage();
      if (live.has(sid) && attempt < 4 && !scope.disposed) confirmEnded(sid, attempt + 1);
    }, 1000 * 2 ** attempt);
  };
  const onCallMessage = (message) => {
    if (message?.type !== 'call' || !message.callSid) return;
    const sid = message.callSid;
    const current = live.get(sid) || list.find((c) => c.callSid === sid);
    const call = mergeCall(current, message);
    if (!call.status) {
      // news of a call the page does not show, without its status (say, its transcript's): the API
      // says where it belongs, never a row guessed from half a record
      clearTimeout(detailsTimer);
      detailsTimer = setTimeout(() => {
        loadLive();
        refreshFirstPage();
      }, 500);
      return;
    }
    if (isLive(call)) {
      if (matches(call, filters)) live.set(sid, call);
      else live.delete(sid);
      if (!current || !call.startedAt) {
        // a call first seen on the feed: its full row comes from the API shortly
        clearTimeout(detailsTimer);
        detailsTimer = setTimeout(loadLive, 500);
      }
      if (FINAL_TRANSCRIPT.has(message.transcriptStatus)) confirmEnded(sid, 0);
    } else {
      live.delete(sid);
      const index = list.findIndex((c) => c.callSid === sid);
      if (index >= 0) list[index] = call;
      else if (!call.startedAt) {
        refreshFirstPage(); // an ended call the page never saw: its row comes from the API
      } else if (matches(call, filters)) {
        const oldest = list[list.length - 1];
        // a finished call older than the last loaded row belongs to a page not loaded yet
        if (!nextCursor || !oldest || newestFirst(call, oldest) <= 0) list = [...list, call].sort(newestFirst);
      }
    }
    renderLive();
    renderList();
  };

  const reloadAll = () => {
    nextCursor = null;
    loadLive();
    loadList();
  };

  moreButton.addEventListener('click', () => loadList({more: true}));
  const subscription = feed.subscribe('/calls/live', {
    onEvent: onCallMessage,
    onReady: ({first}) => {
      loadLive();
      if (!first) refreshFirstPage();
    },
    onError: (message) => {
      liveBody.prepend(h('p', {class: 'notice'}, message));
    },
  });
  const ticker = setInterval(() => liveTable.tick(), 1000);
  scope.onDispose(() => {
    subscription.close();
    clearInterval(ticker);
    clearTimeout(detailsTimer);
    clearTimeout(endedTimer);
  });

  loadLive();
  loadList();

  return {
    update(next) {
      const wanted = filtersFromQuery(next.query);
      if (JSON.stringify(wanted) !== JSON.stringify(filters)) {
        filters = wanted;
        for (const [name, value] of Object.entries(filters)) if (form.elements[name]) form.elements[name].value = value;
        nextCursor = null;
        loadLive();
        loadList();
      }
      return true;
    },
  };
}
