// The console's start: read the runtime config, restore the session, connect the feed on demand,
// and render the page the address names. Signed out, every address shows the sign-in page and
// comes back to the same address after sign-in.

import {Api} from './api.js';
import {Session} from './auth.js';
import {cognitoClient} from './cognito.js';
import {loadConfig} from './config.js';
import {h, replace} from './dom.js';
import {FeedClient} from './feed.js';
import {parseHash} from './router.js';
import {renderCallPage} from './views/call_page.js';
import {emptyState, pageHeading, pageScope} from './views/common.js';
import {renderHome} from './views/home.js';
import {renderShell} from './views/shell.js';
import {renderSignIn} from './views/signin.js';

const root = document.getElementById('app');

const NOTICES = {
  expired: 'Your session has ended. Sign in again.',
  elsewhere: 'You were signed out in another tab.',
  signout: 'You have signed out.',
};

function fatal(message) {
  replace(root, h('div', {class: 'signin'}, h('div', {class: 'signin-card', role: 'alert'},
    h('p', {class: 'brand brand-large'}, h('span', {class: 'brand-mark', 'aria-hidden': 'true'}), 'callscribe'),
    h('h1', null, 'The console cannot start'),
    h('p', null, message),
    h('button', {type: 'button', class: 'button', onclick: () => location.reload()}, 'Reload'))));
}

function renderNotFound(main, ctx) {
  replace(main, h('section', {class: 'page'}, pageHeading('Page not found'),
    emptyState('There is nothing at this address.', null), h('p', null, h('a', {href: '#/'}, 'Go to the call list'))));
  document.title = 'Not found · callscribe';
  return ctx.scope;
}

const PAGES = {home: renderHome, call: renderCallPage, notfound: renderNotFound};

async function boot() {
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    fatal(error.message);
    return;
  }
  const session = new Session(cognitoClient(config));
  const api = new Api(config.apiUrl, session);
  const feed = new FeedClient({
    realtimeUrl: config.feed.realtimeUrl,
    httpHost: config.feed.httpHost,
    getToken: () => session.idToken(),
    refreshToken: () => session.refresh(),
  });
  let shell = null;
  let page = null; // {name, scope, update?}
  let notice = null;

  const render = ({rebuild = false} = {}) => {
    const route = parseHash(location.hash);
    if (!session.signedIn) {
      page?.scope.dispose();
      page = null;
      shell?.dispose();
      shell = null;
      renderSignIn(root, session, notice);
      return;
    }
    if (!rebuild && page && page.name === route.name && page.update && page.update(route)) return;
    page?.scope.dispose();
    if (!shell || rebuild) {
      shell?.dispose();
      shell = renderShell(root, {session, feed, onSignOut: () => session.signOut()});
    }
    shell.setCurrent(route.name === 'home' ? 'home' : null);
    const scope = pageScope();
    const rendered = PAGES[route.name](shell.main, {api, feed, session, route, scope});
    page = {name: route.name, scope, update: rendered?.update};
    shell.main.querySelector('h1')?.focus({preventScroll: true});
    window.scrollTo(0, 0);
  };

  session.addEventListener('change', (event) => {
    if (!session.signedIn) feed.close();
    notice = session.signedIn ? null : NOTICES[event.detail?.reason] || null;
    render({rebuild: true});
  });
  session.addEventListener('refreshed', () => feed.reauth());
  window.addEventListener('hashchange', () => render());
  session.start();
  render({rebuild: true});
}

boot();
