// Public URLs of the HTTP service. Behind i2pd, the listener is on loopback and users reach it
// through an HTTP server tunnel, so every URL Clove hands out (upload slots, host-meta,
// invitations) is built here from `http_external_url` (the operator's `http://xxx.b32.i2p/`),
// never from the address the listener is bound to or the request's own Host header.
import type { Config } from '../../config/config.js';
import { ConfigError } from '../../config/errors.js';

type Options = Pick<Config, 'get'>;

/** The base URL of `host`'s HTTP service, ending in `/`: `http_external_url` (host, then global), else `http://<host>/`. */
export function baseUrl(config: Options, host: string): string {
  const set = config.get<string | undefined>('http_external_url', host);
  if (set === undefined) return `http://${host}/`;
  return set.endsWith('/') ? set : `${set}/`;
}

/** The public URL of `path` on `host` (path segments are the caller's, already percent-encoded). */
export function publicUrl(config: Options, host: string, path: string): string {
  return baseUrl(config, host) + path.replace(/^\/+/, '');
}

/** The host name of `host`'s `http_external_url`, lower case, undefined when it has none. */
export function externalHostName(config: Options, host: string): string | undefined {
  const set = config.get<string | undefined>('http_external_url', host);
  return set === undefined ? undefined : new URL(set).hostname.toLowerCase();
}

/** Why a configured `http_external_url` cannot be handed out, or undefined when it can. */
export function externalUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `http_external_url "${value}" is not an absolute URL (e.g. "http://xxx.b32.i2p/")`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `http_external_url must be an http:// or https:// URL, not ${url.protocol}`;
  if (url.username || url.password || url.search || url.hash) return 'http_external_url must have no user, password, query or fragment';
  const name = url.hostname.toLowerCase();
  // Loopback and IP literals would reveal the server's side of the tunnel or be unreachable for users.
  if (name === 'localhost' || name.endsWith('.localhost') || /^[\d.]+$/.test(name) || name.startsWith('[')) {
    return `http_external_url must name the service's public (I2P) address, not ${name}`;
  }
  return undefined;
}

/** Check `http_external_url` globally and on every host; a bad one is a ConfigError with file:line. */
export function checkExternalUrls(config: Config): void {
  for (const host of [undefined, ...config.hosts.map((h) => h.name)]) {
    if (host !== undefined && config.setIn('http_external_url', host) !== 'host') continue;
    const value = config.get<string | undefined>('http_external_url', host);
    if (value === undefined) continue;
    const problem = externalUrlProblem(value);
    if (problem) throw new ConfigError(config.file, config.lineOf('http_external_url', host) ?? 0, problem, 'http_external_url');
  }
}
