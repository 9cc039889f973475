// The runtime config (`config.json` beside the app): the same files serve every stack, so what
// differs (user pool, API, feed) is read here at start, never built into the app.

export class ConfigError extends Error {}

const REQUIRED = ['region', 'userPoolClientId', 'cognitoUrl', 'apiUrl'];

export async function loadConfig(fetchImpl = fetch) {
  let response;
  try {
    response = await fetchImpl('config.json', {cache: 'no-store', headers: {Accept: 'application/json'}});
  } catch {
    throw new ConfigError('The console could not reach its server.');
  }
  if (!response.ok) throw new ConfigError(`The console's configuration is missing (HTTP ${response.status}).`);
  let config;
  try {
    config = await response.json();
  } catch {
    throw new ConfigError("The console's configuration is not valid JSON.");
  }
  const missing = REQUIRED.filter((key) => typeof config[key] !== 'string' || !config[key]);
  if (!config.feed || typeof config.feed.realtimeUrl !== 'string' || typeof config.feed.httpHost !== 'string') {
    missing.push('feed.realtimeUrl/feed.httpHost');
  }
  if (missing.length) throw new ConfigError(`The console's configuration lacks ${missing.join(', ')}.`);
  return Object.freeze({...config, apiUrl: config.apiUrl.replace(/\/+$/, '')});
}
