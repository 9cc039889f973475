// The live feed: an AWS AppSync Events realtime client (WebSocket protocol `aws-appsync-event-ws`).
//
// Protocol, as AppSync Events documents it: open the socket with the subprotocols
// `aws-appsync-event-ws` and `header-<base64url(JSON {host, Authorization})>`; send `connection_init`,
// get `connection_ack` (its `connectionTimeoutMs` bounds the silence between `ka` keep-alives); send
// `subscribe` {id, channel, authorization} per channel and get `subscribe_success` or
// `subscribe_error`; events arrive as `data` {id, event: "<json string>"}; `unsubscribe` {id}.
//
// What this client adds, and a change must keep: one socket for every subscription; reconnect with
// exponential backoff and jitter after any loss (close, missing ack, keep-alive silence, network back
// online); every subscription sent again on each new socket; the freshest ID token on each connect, and
// an immediate reconnect when the session refreshes its tokens (`reauth`). Each subscription's
// `onReady` runs on every (re)subscribe: the feed is a view, so the page re-reads from the API what it
// may have missed while the feed was away. Events: 'state' (detail.state: connecting, connected,
// reconnecting, offline, unauthorized, idle; detail.retryInMs).

const PROTOCOL = 'aws-appsync-event-ws';
const ACK_TIMEOUT_MS = 15_000;
const SUBSCRIBE_TIMEOUT_MS = 15_000;
const DEFAULT_KEEPALIVE_MS = 300_000;
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_CAP_MS = 30_000;
const STABLE_MS = 10_000; // a socket up this long resets the backoff
const IDLE_CLOSE_MS = 30_000; // no subscription left: the socket closes after this
const UNAUTHORIZED = new Set(['UnauthorizedException', 'Unauthorized', 'ForbiddenException']);

/** base64url (no padding) of the JSON auth header, as the subprotocol carries it. */
export function encodeAuthHeader(header) {
  const bytes = new TextEncoder().encode(JSON.stringify(header));
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Equal jitter: half the exponential step, plus a random share of the other half. */
export function backoffDelay(attempt, random = Math.random) {
  const step = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 10));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** A random id for a subscription (crypto.randomUUID needs a secure context; this does not). */
function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function errorType(message) {
  const first = Array.isArray(message.errors) ? message.errors[0] : null;
  return first ? String(first.errorType || first.message || '') : '';
}

export class FeedClient extends EventTarget {
  constructor({realtimeUrl, httpHost, getToken, refreshToken, WebSocketImpl = globalThis.WebSocket, random = Math.random}) {
    super();
    this.url = realtimeUrl;
    this.host = httpHost;
    this.getToken = getToken; // () => Promise<idToken>
    this.refreshToken = refreshToken; // () => Promise: force new tokens (an auth error from the feed)
    this.WebSocket = WebSocketImpl;
    this.random = random;
    this.state = 'idle';
    this.subs = new Map(); // local key -> subscription
    this.byWireId = new Map(); // id on the current socket -> subscription
    this.ws = null;
    this.generation = 0;
    this.attempt = 0;
    this.authRetried = false;
    this.timers = {};
    this.token = null;
    this.openedAt = 0;
    this.nextKey = 0;
    // (globalThis: the same module runs under node's test runner, which has no window)
    globalThis.addEventListener?.('online', () => {
      if (!this.ws && this.subs.size) this._connectSoon(0);
    });
    globalThis.addEventListener?.('offline', () => {
      if (this.subs.size) this._setState('offline');
    });
  }

  /** Follow `channel`: handlers {onEvent(payload), onReady({first}), onError(message)}; returns {close}. */
  subscribe(channel, handlers) {
    const sub = {key: ++this.nextKey, channel, handlers, wireId: null, ready: false, everReady: false, failed: false};
    this.subs.set(sub.key, sub);
    clearTimeout(this.timers.idle);
    if (this.ws && this.state === 'connected') this._sendSubscribe(sub);
    else if (!this.ws && !this.timers.connect) this._connectSoon(0);
    return {close: () => this._unsubscribe(sub)};
  }

  /** New tokens: reconnect with them now (subscriptions follow, and their pages re-read). An auth
   * failure's own refresh also lands here; `authRetried` stays set until a subscription succeeds, so
   * a feed that keeps refusing good tokens falls back to the backoff instead of a refresh loop. */
  reauth() {
    if (!this.subs.size) return;
    this._closeSocket(4001, 'reauthenticate');
    this._connectSoon(0);
  }

  /** Sign-out: drop every subscription and the socket. */
  close() {
    this.subs.clear();
    this.byWireId.clear();
    this._closeSocket(1000, 'closed');
    for (const name of Object.keys(this.timers)) clearTimeout(this.timers[name]);
    this.timers = {};
    this._setState('idle');
  }

  _unsubscribe(sub) {
    if (!this.subs.delete(sub.key)) return;
    if (sub.wireId) {
      this.byWireId.delete(sub.wireId);
      if (sub.ready) this._send({type: 'unsubscribe', id: sub.wireId});
    }
    clearTimeout(sub.timer);
    if (!this.subs.size) {
      clearTimeout(this.timers.idle);
      this.timers.idle = setTimeout(() => {
        if (!this.subs.size) {
          this._closeSocket(1000, 'idle');
          clearTimeout(this.timers.connect);
          this.timers.connect = null;
          this._setState('idle');
        }
      }, IDLE_CLOSE_MS);
    }
  }

  _setState(state, detail = {}) {
    if (this.state === state && !('retryInMs' in detail)) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', {detail: {state, ...detail}}));
  }

  _connectSoon(delay) {
    clearTimeout(this.timers.connect);
    this.timers.connect = setTimeout(() => {
      this.timers.connect = null;
      this._connect();
    }, delay);
  }

  async _connect() {
    if (this.ws || !this.subs.size) return;
    if (globalThis.navigator?.onLine === false) {
      this._setState('offline');
      return; // 'online' reconnects
    }
    const generation = ++this.generation;
    this._setState(this.attempt === 0 && this.state !== 'reconnecting' ? 'connecting' : 'reconnecting');
    let token;
    try {
      token = await this.getToken();
    } catch {
      this._setState('unauthorized'); // signed out: the app shows the sign-in page
      return;
    }
    if (generation !== this.generation || this.ws) return;
    this.token = token;
    let ws;
    try {
      ws = new this.WebSocket(this.url, [PROTOCOL, `header-${encodeAuthHeader({host: this.host, Authorization: token})}`]);
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.byWireId.clear();
    ws.onopen = () => {
      if (generation !== this.generation) return;
      this.openedAt = Date.now();
      this._send({type: 'connection_init'});
      this.timers.ack = setTimeout(() => this._lost(generation, 'no connection_ack'), ACK_TIMEOUT_MS);
    };
    ws.onmessage = (event) => this._onMessage(generation, event.data);
    ws.onclose = () => this._onClose(generation);
  }

  _onMessage(generation, raw) {
    if (generation !== this.generation) return;
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    switch (message.type) {
      case 'connection_ack':
        clearTimeout(this.timers.ack);
        this.keepAliveMs = Number(message.connectionTimeoutMs) || DEFAULT_KEEPALIVE_MS;
        this._armKeepAlive(generation);
        this._setState('connected');
        for (const sub of this.subs.values()) this._sendSubscribe(sub);
        break;
      case 'ka':
        this._armKeepAlive(generation);
        break;
      case 'subscribe_success': {
        const sub = this.byWireId.get(message.id);
        if (!sub) break;
        clearTimeout(sub.timer);
        const first = !sub.everReady;
        sub.ready = true;
        sub.everReady = true;
        this.authRetried = false; // (the backoff resets only once a socket has stayed up: STABLE_MS)
        sub.handlers.onReady?.({first});
        break;
      }
      case 'subscribe_error': {
        const sub = this.byWireId.get(message.id);
        if (!sub) break;
        clearTimeout(sub.timer);
        if (UNAUTHORIZED.has(errorType(message)) && !this.authRetried) {
          this._retryWithNewToken(generation);
        } else {
          sub.failed = true;
          sub.handlers.onError?.(UNAUTHORIZED.has(errorType(message))
            ? 'Your account may not follow live calls.'
            : 'The live feed refused this subscription.');
        }
        break;
      }
      case 'data': {
        const sub = this.byWireId.get(message.id);
        if (!sub || !this.subs.has(sub.key)) break;
        let payload = message.event;
        try {
          if (typeof payload === 'string') payload = JSON.parse(payload);
        } catch {
          break; // not JSON: not one of ours
        }
        sub.handlers.onEvent?.(payload);
        break;
      }
      case 'connection_error':
      case 'error':
        if (UNAUTHORIZED.has(errorType(message)) && !this.authRetried) this._retryWithNewToken(generation);
        else this._lost(generation, `server error ${errorType(message)}`);
        break;
      default:
        break; // broadcast_error, unsubscribe_success, publish acks: nothing to do
    }
  }

  _sendSubscribe(sub) {
    if (sub.failed) return;
    sub.ready = false;
    sub.wireId = randomId();
    this.byWireId.set(sub.wireId, sub);
    this._send({
      type: 'subscribe',
      id: sub.wireId,
      channel: sub.channel,
      authorization: {host: this.host, Authorization: this.token},
    });
    clearTimeout(sub.timer);
    const generation = this.generation;
    sub.timer = setTimeout(() => this._lost(generation, 'no subscribe answer'), SUBSCRIBE_TIMEOUT_MS);
  }

  _armKeepAlive(generation) {
    clearTimeout(this.timers.keepAlive);
    this.timers.keepAlive = setTimeout(() => this._lost(generation, 'keep-alive timeout'), this.keepAliveMs);
  }

  async _retryWithNewToken(generation) {
    this.authRetried = true;
    try {
      await this.refreshToken();
    } catch {
      this._setState('unauthorized');
      this._closeSocket(4003, 'unauthorized');
      return;
    }
    if (generation === this.generation) {
      this._closeSocket(4001, 'reauthenticate');
      this._connectSoon(0);
    }
  }

  _lost(generation, why) {
    if (generation !== this.generation || !this.ws) return;
    console.warn(`live feed: ${why}; reconnecting`);
    this.ws.close(4000, why.slice(0, 100));
    this._onClose(generation);
  }

  _onClose(generation) {
    if (generation !== this.generation) return;
    this.generation += 1; // later events of this socket are stale
    this.ws = null;
    this._clearSocketTimers();
    if (this.openedAt && Date.now() - this.openedAt >= STABLE_MS) this.attempt = 0;
    this.openedAt = 0;
    if (this.subs.size) this._scheduleReconnect();
  }

  _scheduleReconnect() {
    const delay = backoffDelay(this.attempt, this.random);
    this.attempt += 1;
    this._setState(globalThis.navigator?.onLine === false ? 'offline' : 'reconnecting', {retryInMs: delay});
    this._connectSoon(delay);
  }

  _closeSocket(code, reason) {
    const ws = this.ws;
    this.generation += 1;
    this.ws = null;
    this._clearSocketTimers();
    this.openedAt = 0;
    if (ws) {
      for (const sub of this.subs.values()) sub.ready = false;
      try {
        ws.close(code, reason);
      } catch {
        // already closing
      }
    }
  }

  _clearSocketTimers() {
    clearTimeout(this.timers.ack);
    clearTimeout(this.timers.keepAlive);
    for (const sub of this.subs.values()) {
      clearTimeout(sub.timer);
      sub.ready = false;
    }
  }

  _send(message) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(message));
  }
}
