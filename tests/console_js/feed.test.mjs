// The live feed client against a scripted WebSocket, on mocked timers: the AppSync Events messages it
// sends, and what it does when the socket drops, stays silent, or refuses a token.
import {afterEach, beforeEach, mock, test} from 'node:test';
import assert from 'node:assert/strict';

import {backoffDelay, encodeAuthHeader, FeedClient} from '../../console/js/feed.js';

class FakeSocket {
  static all = [];

  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.sent = [];
    this.readyState = 0;
    this.closedWith = null;
    FakeSocket.all.push(this);
  }

  send(data) {
    this.sent.push(JSON.parse(data));
  }

  close(code) {
    this.closedWith = code;
    this.readyState = 3;
  }

  // what the server does
  open() {
    this.readyState = 1;
    this.onopen();
  }

  receive(message) {
    this.onmessage({data: JSON.stringify(message)});
  }

  drop() {
    this.readyState = 3;
    this.onclose({code: 1006});
  }

  last(type) {
    return this.sent.filter((m) => m.type === type).at(-1);
  }
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

function decodeHeader(protocol) {
  const encoded = protocol.slice('header-'.length).replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
}

let token;
let refreshes;

function client(random = () => 0.5) {
  return new FeedClient({
    realtimeUrl: 'wss://example.appsync-realtime-api.us-east-1.amazonaws.com/event/realtime',
    httpHost: 'example.appsync-api.us-east-1.amazonaws.com',
    getToken: async () => token,
    refreshToken: async () => {
      refreshes += 1;
      token = `token-${refreshes + 1}`;
    },
    WebSocketImpl: FakeSocket,
    random,
  });
}

/** Connect, ack, and confirm every subscription the client asks for on the newest socket. */
async function establish(timeoutMs = 300_000) {
  mock.timers.tick(0);
  await flush();
  const ws = FakeSocket.all.at(-1);
  ws.open();
  assert.deepEqual(ws.sent.at(-1), {type: 'connection_init'});
  ws.receive({type: 'connection_ack', connectionTimeoutMs: timeoutMs});
  for (const sub of ws.sent.filter((m) => m.type === 'subscribe')) ws.receive({type: 'subscribe_success', id: sub.id});
  return ws;
}

beforeEach(() => {
  FakeSocket.all = [];
  token = 'token-1';
  refreshes = 0;
  mock.timers.enable({apis: ['setTimeout', 'Date'], now: 1_000_000});
  mock.method(console, 'warn', () => {});
});

afterEach(() => {
  mock.timers.reset();
  mock.restoreAll();
});

test('the auth header is base64url JSON without padding', () => {
  const encoded = encodeAuthHeader({host: 'h.example', Authorization: 'a+b/c?'});
  assert.match(encoded, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeHeader(`header-${encoded}`), {host: 'h.example', Authorization: 'a+b/c?'});
});

test('connects, subscribes with the token, and delivers events', async () => {
  const feed = client();
  const events = [];
  const ready = [];
  feed.subscribe('/calls/live', {onEvent: (e) => events.push(e), onReady: (r) => ready.push(r)});
  const ws = await establish();
  assert.equal(ws.protocols[0], 'aws-appsync-event-ws');
  assert.deepEqual(decodeHeader(ws.protocols[1]), {host: 'example.appsync-api.us-east-1.amazonaws.com', Authorization: 'token-1'});
  const subscribe = ws.last('subscribe');
  assert.equal(subscribe.channel, '/calls/live');
  assert.deepEqual(subscribe.authorization, {host: 'example.appsync-api.us-east-1.amazonaws.com', Authorization: 'token-1'});
  assert.deepEqual(ready, [{first: true}]);
  assert.equal(feed.state, 'connected');
  ws.receive({type: 'data', id: subscribe.id, event: JSON.stringify({type: 'call', callSid: 'CA1', status: 'ringing'})});
  ws.receive({type: 'data', id: 'someone-else', event: '{"type":"call"}'});
  assert.deepEqual(events, [{type: 'call', callSid: 'CA1', status: 'ringing'}]);
});

test('a dropped socket reconnects after a jittered backoff and subscribes again', async () => {
  const feed = client(() => 0);
  const ready = [];
  const states = [];
  feed.addEventListener('state', (e) => states.push(e.detail));
  feed.subscribe('/calls/CA1', {onReady: (r) => ready.push(r)});
  const first = await establish();
  const firstId = first.last('subscribe').id;
  first.drop();
  assert.equal(feed.state, 'reconnecting');
  assert.equal(states.at(-1).retryInMs, 500); // half of the first 1 s step: the least it waits
  mock.timers.tick(499);
  await flush();
  assert.equal(FakeSocket.all.length, 1);
  mock.timers.tick(1);
  await flush();
  assert.equal(FakeSocket.all.length, 2);
  const second = await establish();
  assert.notEqual(second.last('subscribe').id, firstId);
  assert.deepEqual(ready, [{first: true}, {first: false}]);
});

test('backoff doubles up to its cap, and resets once a socket has stayed up', async () => {
  assert.equal(backoffDelay(0, () => 1), 1000);
  assert.equal(backoffDelay(3, () => 0), 4000);
  assert.equal(backoffDelay(20, () => 1), 30_000);
  const feed = client(() => 1);
  const states = [];
  feed.addEventListener('state', (e) => states.push(e.detail));
  feed.subscribe('/calls/live', {});
  mock.timers.tick(0);
  await flush();
  for (const expected of [1000, 2000, 4000]) {
    FakeSocket.all.at(-1).drop(); // refused before it opened
    assert.equal(states.at(-1).retryInMs, expected);
    mock.timers.tick(expected);
    await flush();
  }
  const ws = await establish();
  mock.timers.tick(10_000); // stable
  ws.drop();
  assert.equal(states.at(-1).retryInMs, 1000);
});

test('silence longer than connectionTimeoutMs closes the socket and reconnects', async () => {
  const feed = client(() => 0);
  feed.subscribe('/calls/live', {});
  const ws = await establish(1000);
  mock.timers.tick(900);
  ws.receive({type: 'ka'});
  mock.timers.tick(900);
  assert.equal(ws.closedWith, null); // the keep-alive reset the clock
  mock.timers.tick(100);
  assert.equal(ws.closedWith, 4000);
  assert.equal(feed.state, 'reconnecting');
  mock.timers.tick(500);
  await flush();
  assert.equal(FakeSocket.all.length, 2);
});

test('a missing connection_ack is a lost connection too', async () => {
  const feed = client(() => 0);
  feed.subscribe('/calls/live', {});
  mock.timers.tick(0);
  await flush();
  FakeSocket.all[0].open();
  mock.timers.tick(15_000);
  assert.equal(FakeSocket.all[0].closedWith, 4000);
  assert.equal(feed.state, 'reconnecting');
});

test('reauth reconnects at once with the new token', async () => {
  const feed = client();
  const ready = [];
  feed.subscribe('/calls/live', {onReady: (r) => ready.push(r)});
  const first = await establish();
  token = 'token-new';
  feed.reauth();
  assert.equal(first.closedWith, 4001);
  const second = await establish();
  assert.equal(decodeHeader(second.protocols[1]).Authorization, 'token-new');
  assert.equal(second.last('subscribe').authorization.Authorization, 'token-new');
  assert.deepEqual(ready, [{first: true}, {first: false}]);
});

test('an unauthorised subscribe refreshes the token once, then reports', async () => {
  const feed = client();
  const errors = [];
  feed.subscribe('/calls/live', {onError: (m) => errors.push(m)});
  mock.timers.tick(0);
  await flush();
  let ws = FakeSocket.all.at(-1);
  ws.open();
  ws.receive({type: 'connection_ack', connectionTimeoutMs: 300_000});
  ws.receive({type: 'subscribe_error', id: ws.last('subscribe').id, errors: [{errorType: 'UnauthorizedException', message: 'no'}]});
  await flush();
  assert.equal(refreshes, 1);
  mock.timers.tick(0);
  await flush();
  ws = FakeSocket.all.at(-1);
  assert.equal(FakeSocket.all.length, 2);
  ws.open();
  ws.receive({type: 'connection_ack', connectionTimeoutMs: 300_000});
  assert.equal(ws.last('subscribe').authorization.Authorization, 'token-2');
  ws.receive({type: 'subscribe_error', id: ws.last('subscribe').id, errors: [{errorType: 'UnauthorizedException', message: 'no'}]});
  await flush();
  assert.equal(refreshes, 1);
  assert.deepEqual(errors, ['Your account may not follow live calls.']);
});

test('closing the last subscription unsubscribes, then closes the idle socket', async () => {
  const feed = client();
  const handle = feed.subscribe('/calls/CA1', {});
  const ws = await establish();
  const id = ws.last('subscribe').id;
  handle.close();
  assert.deepEqual(ws.last('unsubscribe'), {type: 'unsubscribe', id});
  mock.timers.tick(29_999);
  assert.equal(ws.closedWith, null);
  mock.timers.tick(1);
  assert.equal(ws.closedWith, 1000);
  assert.equal(feed.state, 'idle');
});

test('a second subscription on an open socket is sent at once', async () => {
  const feed = client();
  feed.subscribe('/calls/live', {});
  const ws = await establish();
  const ready = [];
  feed.subscribe('/calls/CA2', {onReady: (r) => ready.push(r)});
  const subscribe = ws.last('subscribe');
  assert.equal(subscribe.channel, '/calls/CA2');
  ws.receive({type: 'subscribe_success', id: subscribe.id});
  assert.deepEqual(ready, [{first: true}]);
  assert.equal(FakeSocket.all.length, 1);
});
