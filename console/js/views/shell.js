// The frame around every signed-in page: skip link, header (brand, navigation, the live feed's
// state, who is signed in, sign-out), the feed banner shown while live updates are interrupted,
// and the main landmark pages render into.

import {h} from '../dom.js';

const FEED_TEXT = {
  connecting: 'Connecting…',
  connected: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
  unauthorized: 'Live feed unavailable',
  idle: 'Live updates off',
};

export function renderShell(root, {session, feed, onSignOut}) {
  const user = session.user;
  const role = user.isSupervisor ? 'Supervisor' : user.isViewer ? 'Viewer' : 'No access';
  const status = h('span', {class: 'feed-status', 'data-testid': 'feed-status', role: 'status', 'data-state': feed.state},
    h('span', {class: 'dot', 'aria-hidden': 'true'}), h('span', {class: 'feed-text'}, ''));
  const banner = h('div', {class: 'banner warning', 'data-testid': 'feed-banner', hidden: true});
  const main = h('main', {id: 'main', tabindex: '-1'});

  const showState = ({state, retryInMs}) => {
    status.dataset.state = state;
    status.querySelector('.feed-text').textContent = `${FEED_TEXT[state] || state}`;
    status.title = state === 'connected' ? 'Live updates are on' : FEED_TEXT[state] || state;
    const interrupted = state === 'reconnecting' || state === 'offline' || state === 'unauthorized';
    banner.hidden = !interrupted;
    if (state === 'reconnecting') {
      const seconds = retryInMs ? Math.max(1, Math.round(retryInMs / 1000)) : null;
      banner.textContent = `Live updates are interrupted; reconnecting${seconds ? ` (next try in ${seconds} s)` : ''}. ` +
        'What you see may be behind and will catch up once the feed is back.';
    } else if (state === 'offline') {
      banner.textContent = 'You are offline. Live updates resume when the connection is back.';
    } else if (state === 'unauthorized') {
      banner.textContent = 'The live feed refused your sign-in. Pages still load; reload them to see changes.';
    }
  };
  showState({state: feed.state});
  const onState = (event) => showState(event.detail);
  feed.addEventListener('state', onState);

  root.replaceChildren(
    h('a', {class: 'skip-link', href: '#main', onclick: (e) => { e.preventDefault(); main.focus(); }}, 'Skip to content'),
    h('header', {class: 'topbar'},
      h('div', {class: 'topbar-inner'},
        h('a', {class: 'brand', href: '#/'}, h('span', {class: 'brand-mark', 'aria-hidden': 'true'}), 'callscribe'),
        h('nav', {'aria-label': 'Main'}, h('a', {href: '#/', class: 'nav-link', 'data-nav': 'home'}, 'Calls')),
        h('div', {class: 'topbar-end'},
          status,
          h('span', {class: 'user'},
            h('span', {class: 'user-name'}, user.email || user.username),
            h('span', {class: `role role-${role.toLowerCase().replace(/\s/g, '-')}`}, role)),
          h('button', {type: 'button', class: 'button ghost', onclick: onSignOut}, 'Sign out')))),
    banner,
    main);

  return {
    main,
    setCurrent(name) {
      for (const link of root.querySelectorAll('[data-nav]')) {
        if (link.dataset.nav === name) link.setAttribute('aria-current', 'page');
        else link.removeAttribute('aria-current');
      }
    },
    dispose() {
      feed.removeEventListener('state', onState);
    },
  };
}
