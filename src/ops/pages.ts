// The operator's pages over HTTP: /metrics (OpenMetrics, module http_openmetrics) and /status
// with its panel, script and style (module http_status). Which are on is read at each request,
// so a reload that loads or unloads a module takes effect at once; a page that is off is not
// handled (the HTTP server answers 404, as for any unknown path). docs/metrics.md, "Access".
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import type { AllowList } from '../net/allow-list.js';
import { viaI2p } from './access.js';
import { adminLogin, type LoginDeps } from './admin-login.js';
import type { History } from './history.js';
import type { Metrics } from './metrics.js';
import { STATUS_CSS, STATUS_SCRIPT, renderPage, renderPanel } from './status-page.js';

/** The pages the loaded modules turned on, now. */
export interface EnabledPages {
  metrics?: { allow: AllowList };
  status?: { allowI2p: boolean };
}

export interface PagesDeps {
  metrics: Metrics;
  history: History;
  enabled(): EnabledPages;
  login: LoginDeps;
}

/** Where the status page lives. */
export const STATUS_PATH = '/status';
/** Where the OpenMetrics exposition lives. */
export const METRICS_PATH = '/metrics';
/** Successful logins remembered (so the page's refreshes do not each hash the password). */
const LOGINS_KEPT = 32;
/** How long a successful login is remembered, in ms. */
const LOGIN_TTL_MS = 5 * 60_000;

/** Headers on every answer: never cached, never framed, no referrer leaves the page. */
const COMMON = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};
/** The status page loads only its own script and style, and fetches only its own panel. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function answer(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...COMMON, 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

const TEXT = 'text/plain; charset=utf-8';

/** The request handler: true when it answered (the path is one of its pages and the page is on). */
export function opsPages(deps: PagesDeps): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  // Remembered logins by an HMAC of the Authorization header (never the header itself).
  const key = randomBytes(32);
  const logins = new Map<string, number>();
  const remembered = (header: string): boolean => {
    const k = createHmac('sha256', key).update(header).digest('base64');
    const until = logins.get(k);
    if (until !== undefined && until > Date.now()) return true;
    logins.delete(k);
    return false;
  };
  const remember = (header: string): void => {
    if (logins.size >= LOGINS_KEPT) logins.delete(logins.keys().next().value as string);
    logins.set(createHmac('sha256', key).update(header).digest('base64'), Date.now() + LOGIN_TTL_MS);
  };

  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const on = deps.enabled();
    if (path === METRICS_PATH && on.metrics) {
      if (!getOrHead(req, res)) return true;
      if (viaI2p(req.headers)) return refuse(res, 'the metrics are not served through I2P'), true;
      if (!on.metrics.allow.allows(req.socket.remoteAddress)) return refuse(res, 'this address may not read the metrics (openmetrics_allow_ips, openmetrics_allow_cidr)'), true;
      answer(res, 200, deps.metrics.contentType, await deps.metrics.exposition());
      return true;
    }
    if ((path === STATUS_PATH || path.startsWith(`${STATUS_PATH}/`)) && on.status) {
      if (!getOrHead(req, res)) return true;
      if (viaI2p(req.headers) && !on.status.allowI2p) return refuse(res, 'the status page is not served through I2P (http_status_allow_i2p)'), true;
      const header = req.headers.authorization;
      if (!(header && remembered(header))) {
        const login = await adminLogin(header, deps.login);
        if (!login.ok) {
          answer(res, 401, TEXT, 'log in with the JID and password of an admin\n', { 'www-authenticate': 'Basic realm="Clove status", charset="UTF-8"' });
          return true;
        }
        remember(header as string);
      }
      return serveStatus(path, deps, res);
    }
    return false;
  };
}

async function serveStatus(path: string, deps: PagesDeps, res: ServerResponse): Promise<boolean> {
  const sub = path.slice(STATUS_PATH.length);
  if (sub === '/status.js') return answer(res, 200, 'text/javascript; charset=utf-8', STATUS_SCRIPT), true;
  if (sub === '/status.css') return answer(res, 200, 'text/css; charset=utf-8', STATUS_CSS), true;
  if (sub !== '' && sub !== '/' && sub !== '/panel') return false;
  const src = deps.metrics.sources;
  const panel = renderPanel({
    now: await deps.history.current(),
    history: deps.history.samples(),
    sessionsByHost: [...src.sessionsByHost()],
    links: [...src.s2sLinks()],
  });
  const html = sub === '/panel' ? panel : renderPage(panel, STATUS_PATH);
  answer(res, 200, 'text/html; charset=utf-8', html, { 'content-security-policy': CSP });
  return true;
}

function getOrHead(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  answer(res, 405, TEXT, 'only GET and HEAD\n', { allow: 'GET, HEAD' });
  return false;
}

function refuse(res: ServerResponse, why: string): void {
  answer(res, 403, TEXT, `${why}\n`);
}
