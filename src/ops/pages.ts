// The operator's pages as routes of the HTTP service (src/net/http/): /metrics (OpenMetrics,
// module http_openmetrics) and /status with its panel, script and style (module http_status).
// main serves a route only while its module is loaded, and each request checks again, so a
// reload that unloads the module takes effect at once (404, as any unknown path).
// docs/metrics.md, "Access".
import type { ServerResponse } from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import { HttpError, type HttpRequest, type HttpRoute } from '../core/http.js';
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

/** Headers besides the HTTP service's own (nosniff, no referrer, no framing): never cached. */
const NO_STORE = { 'cache-control': 'no-store' };
/** The status page loads only its own script and style, and fetches only its own panel. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function answer(req: HttpRequest, res: ServerResponse, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(200, { ...NO_STORE, 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...extra });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** A bounded memory of good logins, by an HMAC of the Authorization header (never the header itself). */
class Logins {
  private readonly key = randomBytes(32);
  private readonly until = new Map<string, number>();

  has(header: string): boolean {
    const k = this.id(header);
    const until = this.until.get(k);
    if (until !== undefined && until > Date.now()) return true;
    this.until.delete(k);
    return false;
  }

  add(header: string): void {
    if (this.until.size >= LOGINS_KEPT) this.until.delete(this.until.keys().next().value as string);
    this.until.set(this.id(header), Date.now() + LOGIN_TTL_MS);
  }

  private id(header: string): string {
    return createHmac('sha256', this.key).update(header).digest('base64');
  }
}

/** The two routes; main serves each while its module is loaded. */
export function opsRoutes(deps: PagesDeps): { metrics: HttpRoute; status: HttpRoute } {
  const logins = new Logins();
  const methods = ['GET', 'HEAD'];
  const metrics: HttpRoute = {
    path: METRICS_PATH, methods, maxBody: 0,
    async handle(req, res) {
      const on = deps.enabled().metrics;
      if (!on) throw new HttpError(404, 'not found');
      if (viaI2p(req.raw.headers)) throw new HttpError(403, 'the metrics are not served through I2P');
      if (!on.allow.allows(req.raw.socket.remoteAddress)) throw new HttpError(403, 'this address may not read the metrics (openmetrics_allow_ips, openmetrics_allow_cidr)');
      answer(req, res, deps.metrics.contentType, await deps.metrics.exposition());
    },
  };
  const status: HttpRoute = {
    path: STATUS_PATH, methods, maxBody: 0,
    async handle(req, res) {
      const on = deps.enabled().status;
      if (!on) throw new HttpError(404, 'not found');
      if (viaI2p(req.raw.headers) && !on.allowI2p) throw new HttpError(403, 'the status page is not served through I2P (http_status_allow_i2p)');
      const header = req.raw.headers.authorization;
      if (!(header && logins.has(header))) {
        const login = await adminLogin(header, deps.login);
        if (!login.ok) throw new HttpError(401, 'log in with the JID and password of an admin', { 'WWW-Authenticate': 'Basic realm="Clove status", charset="UTF-8"' });
        logins.add(header as string);
      }
      await serveStatus(req, res, deps);
    },
  };
  return { metrics, status };
}

async function serveStatus(req: HttpRequest, res: ServerResponse, deps: PagesDeps): Promise<void> {
  if (req.rest === 'status.js') return answer(req, res, 'text/javascript; charset=utf-8', STATUS_SCRIPT);
  if (req.rest === 'status.css') return answer(req, res, 'text/css; charset=utf-8', STATUS_CSS);
  if (req.rest !== '' && req.rest !== 'panel') throw new HttpError(404, 'not found');
  const src = deps.metrics.sources;
  const panel = renderPanel({
    now: await deps.history.current(),
    history: deps.history.samples(),
    sessionsByHost: [...src.sessionsByHost()],
    links: [...src.s2sLinks()],
  });
  answer(req, res, 'text/html; charset=utf-8', req.rest === 'panel' ? panel : renderPage(panel, STATUS_PATH), { 'content-security-policy': CSP });
}
