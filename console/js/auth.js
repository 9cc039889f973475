// The signed-in person: Cognito tokens kept across reloads, refreshed before they expire and on
// demand (a 401), shared between tabs, and dropped on sign-out or when the refresh token is refused.
//
// Events: 'change' (signed in or out; detail.reason), 'refreshed' (new tokens: the feed re-authenticates
// and pages re-read what they may have missed). The ID token is the bearer for the API and the feed.

import {CognitoError} from './cognito.js';

export const STORAGE_KEY = 'callscribe.session';
const REFRESH_MARGIN_MS = 2 * 60 * 1000; // refresh this long before the ID token expires
const RETRY_MS = 30 * 1000; // a refresh that failed on the network is tried again after this
const MIN_DELAY_MS = 1000;

export const VIEWERS = 'callscribe-viewers';
export const SUPERVISORS = 'callscribe-supervisors';

export class SessionEnded extends Error {}

// what Cognito answers for a refresh token that is expired, revoked, or whose user is gone
const ENDED = new Set(['NotAuthorizedException', 'UserNotFoundException']);

/** The claims of a JWT (not verified: the API and the feed verify; the console only reads names). */
export function decodeJwt(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = payload + '='.repeat((4 - (payload.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

function readStored(storage) {
  try {
    const doc = JSON.parse(storage.getItem(STORAGE_KEY) || 'null');
    if (doc && doc.idToken && doc.refreshToken && Number.isFinite(doc.expiresAt)) return doc;
  } catch {
    // unreadable: treated as signed out
  }
  return null;
}

export class Session extends EventTarget {
  constructor(cognito, {storage = window.localStorage, now = () => Date.now()} = {}) {
    super();
    this.cognito = cognito;
    this.storage = storage;
    this.now = now;
    this.tokens = readStored(storage);
    this._timer = null;
    this._refreshing = null;
  }

  /** Schedule refreshes and follow other tabs (sign-in, refresh, sign-out there). */
  start() {
    window.addEventListener('storage', (event) => {
      if (event.key !== STORAGE_KEY && event.key !== null) return;
      const stored = readStored(this.storage);
      if (!stored && this.tokens) this._drop('elsewhere');
      else if (stored && (!this.tokens || stored.idToken !== this.tokens.idToken)) {
        const wasSignedIn = Boolean(this.tokens);
        this.tokens = stored;
        this._schedule();
        this.dispatchEvent(new CustomEvent(wasSignedIn ? 'refreshed' : 'change', {detail: {reason: 'elsewhere'}}));
      }
    });
    // timers sleep in background tabs: check again as soon as the tab is seen
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.tokens && this._dueSoon()) this.refresh().catch(() => {});
    });
    this._schedule();
  }

  get signedIn() {
    return Boolean(this.tokens);
  }

  get user() {
    if (!this.tokens) return null;
    const claims = decodeJwt(this.tokens.idToken);
    const groups = Array.isArray(claims['cognito:groups']) ? claims['cognito:groups'] : [];
    return {
      username: claims['cognito:username'] || claims.username || claims.sub || '',
      email: claims.email || '',
      groups,
      isViewer: groups.includes(VIEWERS),
      isSupervisor: groups.includes(SUPERVISORS),
    };
  }

  /** Tokens, or `{challenge}` when Cognito asks for a new password first (an admin-created user). */
  async signIn(username, password) {
    const doc = await this.cognito.passwordAuth(username, password);
    if (doc.ChallengeName === 'NEW_PASSWORD_REQUIRED') {
      return {challenge: {session: doc.Session, username: doc.ChallengeParameters?.USERNAME || username}};
    }
    if (doc.ChallengeName) {
      throw new CognitoError('UnsupportedChallenge',
        `This account needs a sign-in step the console does not offer (${doc.ChallengeName}). Ask an administrator.`, 400);
    }
    this._store(doc.AuthenticationResult, null);
    this.dispatchEvent(new CustomEvent('change', {detail: {reason: 'signin'}}));
    return {};
  }

  async completeNewPassword(challenge, newPassword) {
    const doc = await this.cognito.newPassword(challenge.session, challenge.username, newPassword);
    if (!doc.AuthenticationResult) throw new CognitoError('UnsupportedChallenge', 'Cognito asked for another step.', 400);
    this._store(doc.AuthenticationResult, null);
    this.dispatchEvent(new CustomEvent('change', {detail: {reason: 'signin'}}));
  }

  /** A valid ID token, refreshed first when it is about to expire. */
  async idToken() {
    if (!this.tokens) throw new SessionEnded('Not signed in');
    if (this._dueSoon()) await this.refresh();
    if (!this.tokens) throw new SessionEnded('Not signed in');
    return this.tokens.idToken;
  }

  /** New tokens from the refresh token; one request at a time however many callers ask. */
  refresh() {
    if (!this._refreshing) {
      this._refreshing = this._refresh().finally(() => {
        this._refreshing = null;
      });
    }
    return this._refreshing;
  }

  async _refresh() {
    const before = this.tokens;
    if (!before) throw new SessionEnded('Not signed in');
    const stored = readStored(this.storage); // another tab may have refreshed already
    if (stored && stored.idToken !== before.idToken && stored.expiresAt - this.now() > REFRESH_MARGIN_MS) {
      this.tokens = stored;
      this._schedule();
      this.dispatchEvent(new CustomEvent('refreshed'));
      return;
    }
    let doc;
    try {
      doc = await this.cognito.refresh(before.refreshToken);
    } catch (error) {
      if (error instanceof CognitoError && ENDED.has(error.type)) {
        this._drop('expired');
        throw new SessionEnded('Your session has ended. Sign in again.');
      }
      this._schedule(RETRY_MS);
      throw error;
    }
    if (this.tokens !== before) return; // signed out (or in again) meanwhile
    this._store(doc.AuthenticationResult, before.refreshToken);
    this.dispatchEvent(new CustomEvent('refreshed'));
  }

  /** The server refused even fresh tokens: the session is over (no revocation: it is dead anyway). */
  expire() {
    this._drop('expired');
  }

  signOut() {
    const refreshToken = this.tokens?.refreshToken;
    this._drop('signout');
    // best effort: the tokens are gone from this browser whatever Cognito answers
    if (refreshToken) this.cognito.revoke(refreshToken).catch(() => {});
  }

  _drop(reason) {
    const had = Boolean(this.tokens);
    this.tokens = null;
    clearTimeout(this._timer);
    this._timer = null;
    if (reason !== 'elsewhere') this.storage.removeItem(STORAGE_KEY);
    if (had) this.dispatchEvent(new CustomEvent('change', {detail: {reason}}));
  }

  _store(result, keptRefreshToken) {
    if (!result || !result.IdToken) throw new CognitoError('Error', 'Cognito answered without tokens.', 500);
    this.tokens = {
      idToken: result.IdToken,
      accessToken: result.AccessToken,
      refreshToken: result.RefreshToken || keptRefreshToken,
      // from the answer's lifetime and this clock, so a skewed clock cannot make it look expired
      expiresAt: this.now() + Number(result.ExpiresIn || 3600) * 1000,
    };
    this.storage.setItem(STORAGE_KEY, JSON.stringify(this.tokens));
    this._schedule();
  }

  _dueSoon() {
    return this.tokens && this.tokens.expiresAt - this.now() <= REFRESH_MARGIN_MS;
  }

  _schedule(delay) {
    clearTimeout(this._timer);
    this._timer = null;
    if (!this.tokens) return;
    const wait = delay ?? Math.max(MIN_DELAY_MS, this.tokens.expiresAt - REFRESH_MARGIN_MS - this.now());
    this._timer = setTimeout(() => this.refresh().catch(() => {}), wait);
  }
}
