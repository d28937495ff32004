// /http-bind: the BOSH endpoint (XEP-0124 with XEP-0206) as a route of the HTTP service. It
// parses each request's `<body/>` (bounded: the stanza size limit plus a little for the wrapper),
// creates sessions (each a c2s stream, admitted under the same caps as TCP clients) and hands the
// other requests to their session by sid. Cross-origin pages get CORS headers only when
// cross_domain_bosh allows their origin.
// References: XEP-0124 §7 (creation), §19 (errors); XEP-0206 §4; the Fetch standard (CORS).
import type { ServerResponse } from 'node:http';
import { NS } from '../../xml/ns.js';
import { StreamError } from '../../core/errors.js';
import { HttpError, type HttpRequest, type HttpRoute } from '../../core/http.js';
import { BoshSession, parseRid, sendBody, type BoshLimits, type BoshRequest } from './bosh-session.js';
import { WholeParser, isWholeError } from './whole-parser.js';
import { admitClient, originAllowed, type WebClientDeps } from './web-client.js';

/** Room for the `<body/>` wrapper around a stanza of the largest size. */
const WRAPPER_BYTES = 4096;

export interface BoshEndpoint {
  readonly route: HttpRoute;
  /** Sessions open now. */
  readonly size: number;
}

/** The BOSH route at `path`; `limits()` is read for each new session. */
export function boshEndpoint(deps: WebClientDeps, path: string, stanzaSizeLimit: number, limits: () => BoshLimits): BoshEndpoint {
  const sessions = new Map<string, BoshSession>();
  const parser = new WholeParser({ maxStanzaBytes: stanzaSizeLimit, maxElements: Math.max(64, Math.floor(stanzaSizeLimit / 64)) });

  const cors = (req: HttpRequest, res: ServerResponse): void => {
    const origin = req.raw.headers.origin;
    const opts = deps.options();
    if (!originAllowed(origin, req.raw.headers.host, deps.ownOrigin(req.host), opts.crossDomain)) {
      throw new HttpError(403, 'this origin may not use BOSH here (cross_domain_bosh)');
    }
    if (origin === undefined) return;
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type');
    res.setHeader('Access-Control-Max-Age', '86400');
    res.setHeader('Vary', 'Origin');
  };

  const create = (body: BoshRequest, req: HttpRequest, res: ServerResponse): void => {
    if (parseRid(body.attrs.rid) === undefined || body.attrs.to === undefined) {
      return sendBody(res, { type: 'terminate', condition: 'bad-request' }, '', 400);
    }
    const session = new BoshSession(body, limits(), deps.options().secure, (s) => sessions.delete(s.sid));
    const conn = admitClient(deps, session);
    if (typeof conn === 'string') {
      const error = new StreamError('resource-constraint', conn).toElement();
      error.attrs['xmlns:stream'] = NS.STREAMS;
      return sendBody(res, { type: 'terminate', condition: 'remote-stream-error', 'xmlns:stream': NS.STREAMS }, error.toString());
    }
    sessions.set(session.sid, session);
    session.start(body, res);
    // The session answers every held request within its wait: no idle clock underneath it.
    req.raw.socket.setTimeout((session.wait + 30) * 1000);
  };

  const route: HttpRoute = {
    path,
    methods: ['GET', 'POST', 'OPTIONS'],
    maxBody: stanzaSizeLimit + WRAPPER_BYTES,
    handle(req, res) {
      if (!deps.serves(req.host)) throw new HttpError(404, 'not found');
      cors(req, res);
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { 'Content-Length': 0 });
        res.end();
        return;
      }
      if (req.method === 'GET') {
        const text = 'This is a BOSH endpoint (XEP-0206): point an XMPP web client at this URL.\n';
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      const doc = parser.parse((req.body ?? Buffer.alloc(0)).toString('utf8'));
      if (isWholeError(doc) || doc.name !== 'body' || doc.attrs.xmlns !== NS.HTTPBIND) {
        return sendBody(res, { type: 'terminate', condition: 'bad-request' }, '', 400);
      }
      const body: BoshRequest = { attrs: doc.attrs, children: doc.children };
      const sid = body.attrs.sid;
      if (sid === undefined) return create(body, req, res);
      const session = sessions.get(sid);
      if (!session) return sendBody(res, { type: 'terminate', condition: 'item-not-found' }, '', 404);
      req.raw.socket.setTimeout((session.wait + 30) * 1000);
      session.request(body, res);
    },
  };
  return {
    route,
    get size() { return sessions.size; },
  };
}
