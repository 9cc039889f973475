// The people's read API (`apiUrl` of the config): the call list, a call with its whole transcript,
// and a call's recording. The ID token goes in `Authorization`; a 401 refreshes it and tries once
// more; the server decides everything else (403 without the group).

import {SessionEnded} from './auth.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const MESSAGES = {
  401: 'Your session has ended. Sign in again.',
  403: 'Your account may not see calls. Ask an administrator to add you to the callscribe-viewers group.',
  404: 'Not found.',
};

export class Api {
  constructor(baseUrl, session, fetchImpl = (...args) => fetch(...args)) {
    this.base = baseUrl;
    this.session = session;
    this.fetch = fetchImpl;
  }

  async get(path, params = {}, {signal} = {}) {
    const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== ''));
    const search = query.toString();
    const url = `${this.base}${path}${search ? `?${search}` : ''}`;
    for (let attempt = 0; ; attempt += 1) {
      const token = await this.session.idToken();
      let response;
      try {
        response = await this.fetch(url, {headers: {Authorization: token, Accept: 'application/json'}, signal, cache: 'no-store'});
      } catch (error) {
        if (error.name === 'AbortError') throw error;
        throw new ApiError(0, 'The console cannot reach its API. Check your connection.');
      }
      if (response.status === 401 && attempt === 0) {
        await this.session.refresh(); // an expired or revoked token: once, with fresh tokens
        continue;
      }
      if (response.status === 401) {
        this.session.expire();
        throw new SessionEnded(MESSAGES[401]);
      }
      let doc = null;
      try {
        doc = await response.json();
      } catch {
        doc = null;
      }
      if (!response.ok) {
        throw new ApiError(response.status, MESSAGES[response.status] || doc?.message || `The API answered HTTP ${response.status}.`);
      }
      return doc;
    }
  }

  /** One page of calls, newest first: `{calls, nextCursor}`. */
  listCalls(filters, cursor, {signal, limit = 25} = {}) {
    return this.get('/calls', {...filters, cursor, limit}, {signal});
  }

  /** Calls in progress (the live board), newest first. */
  liveCalls({signal} = {}) {
    return this.get('/calls', {live: 'true'}, {signal});
  }

  /** The call with every transcript page (following `transcriptNextCursor`); null for an unknown call. */
  async getCall(callSid, {signal} = {}) {
    const path = `/calls/${encodeURIComponent(callSid)}`;
    const transcript = [];
    const seen = new Set();
    let cursor = null;
    let record;
    for (;;) {
      try {
        record = await this.get(path, {cursor}, {signal});
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }
      transcript.push(...(record.transcript || []));
      cursor = record.transcriptNextCursor;
      if (!cursor) break;
      if (seen.has(cursor)) throw new ApiError(500, 'The API repeated a transcript page.');
      seen.add(cursor);
    }
    return {...record, transcript, transcriptNextCursor: null};
  }

  /** `{url, expiresAt, offsetSeconds}`, or null when there is no recording (404). 403: not a supervisor. */
  async getRecording(callSid, {signal} = {}) {
    try {
      return await this.get(`/calls/${encodeURIComponent(callSid)}/recording`, {}, {signal});
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }
}
