// The HTTP service: one Node `http` server (Node's own, well-kept HTTP/1.1 parser) fed by
// Clove's listeners, serving the routes modules offer (item `http-route`) on their host, and
// handing `Upgrade` requests on a path to whoever registered for it (WebSocket). It opens only
// once something is served, as Prosody's net.http.server does.
//
// Everyone arrives from loopback through i2pd, so every limit is per connection or global:
// header bytes (431), headers timeout and idle timeout (slow-loris), keep-alive timeout, a cap on
// open connections (503), body limits for routes that do not stream (413). No response names the
// software or its version.
// References: RFC 9110 (semantics), RFC 9112 (HTTP/1.1).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config } from '../../config/config.js';
import type { Logger } from '../../core/log.js';
import type { ItemKind, ItemMap } from '../../core/items-map.js';
import { HttpError, type HttpRoute } from '../../core/http.js';
import { httpModule } from '../../lazy-builtins.js';
import { listenAll, type Listening } from '../listener.js';
import { parseTarget, restOf, underPrefix } from './target.js';
import { externalHostName } from './url.js';
import { baseHeaders, rawStatus, sendStatus } from './reply.js';
import { readBody } from './body.js';

/** What the service needs of a host: its name, kind and the routes its modules offer. */
export interface HttpHost {
  readonly name: string;
  readonly kind: 'VirtualHost' | 'Component';
  items<K extends ItemKind>(kind: K): readonly ItemMap[K][];
}

export interface HttpServiceDeps {
  /** The config in force (a reload replaces it; timeouts and caps are read per connection). */
  config: () => Config;
  log: Logger;
  /** The hosts, VirtualHosts first, in config order. */
  hosts: () => Iterable<HttpHost>;
}

/**
 * Takes over an `Upgrade` request on a path (WebSocket): from here the socket is the handler's,
 * timeouts included (Node drops its own idle handling of an upgraded socket, so the handler
 * sets its own, e.g. WebSocket pings); `host` is the host picked by the `Host` header, as for
 * routes. The connection still counts against `http_max_connections` until the socket closes.
 */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, host: string) => void;

interface Found { route: HttpRoute; host: string }

/** The HTTP service of the server: one per process, built by src/main.ts. */
export class HttpService {
  /** Node's HTTP server, made when the listeners first open (node:http is not loaded before). */
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly upgrades = new Map<string, UpgradeHandler>();
  private readonly globalRoutes: HttpRoute[] = [];
  private listening: Listening[] = [];
  private opening: Promise<void> | undefined;
  private refusedSince = 0;

  constructor(private readonly deps: HttpServiceDeps) {}

  private makeServer(): Server {
    const cfg = this.deps.config();
    const server = httpModule().createServer({
      maxHeaderSize: cfg.get<number>('http_max_header_size'),
      headersTimeout: cfg.get<number>('http_headers_timeout') * 1000,
      // 0: the whole-request clock is ours (readBody), so a streaming upload may take hours.
      requestTimeout: 0,
      connectionsCheckingInterval: 500,
      requireHostHeader: true,
    }, (req, res) => void this.onRequest(req, res));
    server.keepAliveTimeout = cfg.get<number>('http_keepalive_timeout') * 1000;
    server.setTimeout(cfg.get<number>('http_idle_timeout') * 1000); // no listener: an idle socket is destroyed
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.onClientError(err, socket));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    // Connections come from our own listeners (emit 'connection'), so the server never listens
    // itself; 'listening' starts Node's connection tracking, which enforces headersTimeout.
    server.emit('listening');
    return server;
  }

  /** The first port the service listens on, 0 while it is closed. */
  get port(): number {
    return this.listening[0]?.port ?? 0;
  }

  /** Open connections (requests, keep-alive and upgraded sockets). */
  get connections(): number {
    return this.sockets.size;
  }

  /**
   * Take over `Upgrade` requests on `path` (exact path, e.g. `/xmpp-websocket`). Registering
   * opens the listener at the next `ensure()`. Returns the function that unregisters.
   */
  upgrade(path: string, handler: UpgradeHandler): () => void {
    this.upgrades.set(path, handler);
    return () => { if (this.upgrades.get(path) === handler) this.upgrades.delete(path); };
  }

  /** Serve `route` on every host, after the hosts' own routes (for stream-level code such as BOSH). Returns the function that removes it. */
  route(route: HttpRoute): () => void {
    this.globalRoutes.push(route);
    return () => {
      const i = this.globalRoutes.indexOf(route);
      if (i >= 0) this.globalRoutes.splice(i, 1);
    };
  }

  /** Open the listeners once something is served (a host's route, a global route, an upgrade); idempotent. */
  ensure(): Promise<void> {
    if (this.listening.length || this.opening || !this.wanted()) return this.opening ?? Promise.resolve();
    const cfg = this.deps.config();
    const server = (this.server ??= this.makeServer());
    this.opening = listenAll('http', cfg.get<string[]>('http_interfaces'), cfg.get<number[]>('http_ports'), (s) => this.onConnection(server, s))
      .then((ls) => {
        this.listening = ls;
        for (const l of ls) this.deps.log.info(`http listening on ${l.address}:${l.port}`);
      })
      .finally(() => { this.opening = undefined; });
    return this.opening;
  }

  /** Stop listening and close every connection, upgraded ones included. */
  async close(): Promise<void> {
    await this.opening?.catch(() => undefined);
    const closing = this.listening.map((l) => l.close());
    this.listening = [];
    this.server?.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    this.server?.emit('close'); // stops Node's connection checking timer
    await Promise.all(closing);
  }

  private wanted(): boolean {
    if (this.upgrades.size || this.globalRoutes.length) return true;
    for (const h of this.deps.hosts()) if (h.items('http-route').length) return true;
    return false;
  }

  private onConnection(server: Server, socket: Socket): void {
    const max = this.deps.config().get<number>('http_max_connections');
    if (this.sockets.size >= max) {
      const now = Date.now();
      if (now - this.refusedSince > 10_000) {
        this.refusedSince = now;
        this.deps.log.warn({ connections: this.sockets.size }, `http connections refused: the maximum of ${max} is open`);
      }
      socket.on('error', () => undefined);
      rawStatus(socket, 503);
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    server.emit('connection', socket);
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    // Only while no response is under way: raw bytes in the middle of one would corrupt it.
    const busy = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage?.headersSent === false;
    if (err.code === 'ECONNRESET' || busy) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    rawStatus(socket, status);
  }

  /** The hosts a `Host` header names (a host's domain or its http_external_url's host name), else the default host. */
  private hostsFor(header: string | undefined): string[] {
    const cfg = this.deps.config();
    const hosts = [...this.deps.hosts()];
    const name = (header ?? '').toLowerCase().replace(/:\d+$/, '').replace(/^\[|\]$/g, '').replace(/\.$/, '');
    const named = hosts.filter((h) => h.name === name || externalHostName(cfg, h.name) === name).map((h) => h.name);
    if (named.length) return named;
    const fallback = cfg.get<string | undefined>('http_default_host');
    if (fallback !== undefined && hosts.some((h) => h.name === fallback)) return [fallback];
    const first = hosts.find((h) => h.kind === 'VirtualHost') ?? hosts[0];
    return first ? [first.name] : [];
  }

  /** The route with the longest prefix over the candidate hosts (earlier host on a tie), then the global ones. */
  private find(path: string, candidates: readonly string[]): Found | undefined {
    const byName = new Map([...this.deps.hosts()].map((h) => [h.name, h]));
    let best: Found | undefined;
    for (const name of candidates) {
      for (const route of byName.get(name)?.items('http-route') ?? []) {
        if (underPrefix(path, route.path) && (!best || route.path.length > best.route.path.length)) best = { route, host: name };
      }
    }
    if (best) return best;
    const host = candidates[0];
    if (host === undefined) return undefined;
    for (const route of this.globalRoutes) {
      if (underPrefix(path, route.path) && (!best || route.path.length > best.route.path.length)) best = { route, host };
    }
    return best;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    baseHeaders(res);
    const cfg = this.deps.config();
    try {
      const target = parseTarget(req.url ?? '');
      if (!target) throw new HttpError(400, 'bad request target');
      const found = this.find(target.path, this.hostsFor(req.headers.host));
      if (!found) throw new HttpError(404, 'not found');
      const { route, host } = found;
      const method = req.method ?? '';
      if (!route.methods.includes(method)) throw new HttpError(405, 'method not allowed', { Allow: route.methods.join(', ') });
      const body = route.stream ? undefined : await readBody(req, route.maxBody ?? cfg.get<number>('http_max_content_size'), cfg.get<number>('http_request_timeout') * 1000);
      await route.handle({ raw: req, method, path: target.path, rest: restOf(target.path, route.path), query: target.query, host, body }, res);
    } catch (err) {
      if (err instanceof HttpError) {
        sendStatus(req, res, err.status, err.message, err.headers);
        return;
      }
      this.deps.log.error({ err, path: req.url }, 'http route failed');
      sendStatus(req, res, 500, 'internal error');
    }
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const target = parseTarget(req.url ?? '');
    const handler = target ? this.upgrades.get(target.path) : undefined;
    const host = this.hostsFor(req.headers.host)[0];
    if (!target) return rawStatus(socket, 400);
    if (!handler || host === undefined) return rawStatus(socket, 404);
    try {
      handler(req, socket, head, host);
    } catch (err) {
      this.deps.log.error({ err, path: target.path }, 'http upgrade failed');
      socket.destroy();
    }
  }
}
