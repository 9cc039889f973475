// Hash routes (the app is static files: every address is `index.html#/…`, so no server rewrites):
//   #/                      the home page: live board, then the call list (filters in the query)
//   #/calls/{callSid}       a call's page

const CALL = /^\/calls\/([A-Za-z0-9]{2,64})$/;

export function parseHash(hash) {
  const raw = (hash || '').replace(/^#/, '') || '/';
  const [path, search = ''] = raw.split('?');
  const query = new URLSearchParams(search);
  if (path === '/' || path === '') return {name: 'home', params: {}, query};
  const call = CALL.exec(path);
  if (call) return {name: 'call', params: {callSid: call[1]}, query};
  return {name: 'notfound', params: {}, query};
}

export function homeHash(filters = {}) {
  const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
  const search = query.toString();
  return search ? `#/?${search}` : '#/';
}

export function callHash(callSid) {
  return `#/calls/${encodeURIComponent(callSid)}`;
}
