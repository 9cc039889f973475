// Pieces every page uses: a page's lifetime (aborts its requests and stops its timers and feed
// subscriptions when the person leaves), status pills, loading/empty/error states.

import {h} from '../dom.js';
import {statusLabel} from '../format.js';

export function pageScope() {
  const controller = new AbortController();
  const cleanups = [];
  return {
    signal: controller.signal,
    get disposed() {
      return controller.signal.aborted;
    },
    onDispose(fn) {
      cleanups.push(fn);
    },
    dispose() {
      controller.abort();
      for (const fn of cleanups.splice(0)) {
        try {
          fn();
        } catch (error) {
          console.error(error);
        }
      }
    },
  };
}

/** A call status as a coloured label; `field` marks it as the row's or page's status for tests. */
export function statusPill(status, {field = true} = {}) {
  return h('span', {class: `pill status-${status || 'unknown'}`, 'data-field': field ? 'status' : null, 'data-status': status || ''},
    status === 'in-progress' || status === 'ringing' ? h('span', {class: 'pulse', 'aria-hidden': 'true'}) : null,
    statusLabel(status));
}

export function loadingState(text = 'Loading…') {
  return h('p', {class: 'state loading', role: 'status'}, h('span', {class: 'spinner', 'aria-hidden': 'true'}), text);
}

export function emptyState(title, detail) {
  return h('div', {class: 'state empty'}, h('p', {class: 'state-title'}, title), detail ? h('p', {class: 'muted'}, detail) : null);
}

export function errorState(message, onRetry) {
  return h('div', {class: 'state error', role: 'alert'},
    h('p', {class: 'state-title'}, message),
    onRetry ? h('button', {type: 'button', class: 'button', onclick: onRetry}, 'Try again') : null);
}

/** A heading that takes focus after navigation, so screen readers start at the new page. */
export function pageHeading(text, ...extra) {
  return h('h1', {tabindex: '-1', class: 'page-title'}, text, ...extra);
}
