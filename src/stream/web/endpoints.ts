// The web client endpoints on the HTTP service: /xmpp-websocket (an upgrade handler) and
// /http-bind (a route), registered only while some host loads the `websocket` / `bosh` module,
// so the HTTP listener stays closed on a server that serves neither (src/modules/web-clients.ts).
import type { HttpService } from '../../net/http/service.js';
import type { RateLimit } from '../../net/rate-limit.js';
import type { StreamTally } from '../tally.js';
import type { Logger } from '../../core/log.js';
import type { C2SConnection, C2SOptions } from '../c2s.js';
import type { ConnectionAdmission } from '../admission.js';
import type { WebSocketEndpoint } from './websocket-endpoint.js';
import { boshEndpoint } from './bosh.js';
import type { WebClientDeps } from './web-client.js';

/** The option reads the endpoints need (the config in force; the stream layer knows no Config). */
export interface OptionReader {
  get<T>(name: string): T;
}

export interface WebClientsDeps {
  c2s: C2SOptions;
  admission: ConnectionAdmission<C2SConnection>;
  log: Logger;
  rate: RateLimit | undefined;
  /** Where stanzas in and out are counted (the operator's metrics), if anywhere. */
  tally?: StreamTally;
  /** c2s_stanza_size_limit, read at start: the largest WebSocket frame, and BOSH body (plus its wrapper). */
  stanzaSizeLimit: number;
  config(): OptionReader;
  /** Whether host `host` loads the module of link relation `rel`. */
  serves(host: string, rel: string): boolean;
  /** Whether any host does. */
  anyServes(rel: string): boolean;
  ownOrigin(host: string): string;
  websocket: { path: string; rel: string };
  bosh: { path: string; rel: string };
}

export interface WebClients {
  /** Register or unregister each endpoint as the hosts' modules now ask (the WebSocket code loads with its first use). */
  sync(): Promise<void>;
  close(): void;
}

/** Build both endpoints; nothing is registered until sync(). */
export function webClients(http: HttpService, deps: WebClientsDeps): WebClients {
  const common = (rel: string, secure: string, cross: string): WebClientDeps => ({
    c2s: deps.c2s, admission: deps.admission, log: deps.log, rate: deps.rate, ownOrigin: deps.ownOrigin,
    ...(deps.tally ? { tally: deps.tally } : {}),
    serves: (host) => deps.serves(host, rel),
    options: () => ({ secure: deps.config().get<boolean>(secure), crossDomain: deps.config().get<boolean | string[]>(cross) }),
  });
  // The WebSocket endpoint and the `ws` library load when a host first serves WebSocket (issue 15).
  let ws: Promise<WebSocketEndpoint> | undefined;
  const loadWs = (): Promise<WebSocketEndpoint> => (ws ??= import('./websocket-endpoint.js').then((m) =>
    m.webSocketEndpoint(common(deps.websocket.rel, 'consider_websocket_secure', 'cross_domain_websocket'), deps.stanzaSizeLimit)));
  const bosh = boshEndpoint(common(deps.bosh.rel, 'consider_bosh_secure', 'cross_domain_bosh'), deps.bosh.path, deps.stanzaSizeLimit, () => ({
    maxWait: deps.config().get<number>('bosh_max_wait'),
    maxRequests: deps.config().get<number>('bosh_max_requests'),
    inactivity: deps.config().get<number>('bosh_max_inactivity'),
  }));
  let offWs: (() => void) | undefined;
  let offBosh: (() => void) | undefined;
  return {
    async sync() {
      if (deps.anyServes(deps.websocket.rel)) {
        const endpoint = await loadWs();
        offWs ??= http.upgrade(deps.websocket.path, endpoint.upgrade);
      } else { offWs?.(); offWs = undefined; }
      if (deps.anyServes(deps.bosh.rel)) offBosh ??= http.route(bosh.route);
      else { offBosh?.(); offBosh = undefined; }
    },
    close() {
      offWs?.();
      offBosh?.();
      void ws?.then((endpoint) => endpoint.close());
    },
  };
}
