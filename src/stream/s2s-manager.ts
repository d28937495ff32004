// Outbound federation: one outgoing stream per (local domain, remote domain), stanzas queued
// while it is being built, retries with backoff, and a bounce only after s2s_send_deadline.
// Messages waiting in a queue are persisted, so a restart loses none of them.
// Tunnels are slow: first contact with an I2P destination can take minutes (design.md §2).
import type { Element } from '../xml/element.js';
import { parseElement } from '../xml/parse.js';
import { StanzaError, errorReply } from '../core/errors.js';
import type { Host } from '../core/host.js';
import type { Logger } from '../core/log.js';
import type { KeyValStore, StorageBackend } from '../storage/store.js';
import type { Connector, Route, RoutePolicy } from '../net/connector.js';
import { ConnectError } from '../net/connector.js';
import type { RateLimit } from '../net/rate-limit.js';
import { decideRoute } from '../net/connect.js';
import { DialbackKeys } from './dialback.js';
import { S2SOut } from './s2s-out.js';
import type { VerifyOutcome } from './s2s-in.js';

export interface S2SManagerOptions {
  hosts: ReadonlyMap<string, Host>;
  log: Logger;
  storage: StorageBackend;
  connector: Connector;
  keys: DialbackKeys;
  /** Per-local-host settings. */
  settings(host: string): {
    darknetOnly: boolean;
    requireEncryption: boolean;
    secureAuth: boolean;
    connectTimeout: number;
    handshakeTimeout: number;
    sendDeadline: number;
    idleTimeout: number;
    stanzaSizeLimit: number;
    /** The `limits` option's s2sout rate (undefined: not limited). */
    rateLimit?: RateLimit | undefined;
  };
}

/** Seconds between connection attempts: 5 s, 15 s, 30 s, 1 min, 2 min, then every 5 min. */
const BACKOFF = [5, 15, 30, 60, 120, 300];

interface Queued { stanza: Element; at: number; persisted: boolean }

/** The link from one local domain to one remote domain. */
class Link {
  stream: S2SOut | undefined;
  connecting = false;
  queue: Queued[] = [];
  attempts = 0;
  lastError = '';
  retryTimer: NodeJS.Timeout | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  routeLogged = false;
  /** Its local domain was removed by a config reload: a connection still under way is dropped. */
  dropped = false;
  constructor(readonly local: string, readonly remote: string) {}
}

export class S2SManager {
  private readonly links = new Map<string, Link>();
  private stopped = false;

  constructor(private readonly opts: S2SManagerOptions) {}

  private link(local: string, remote: string): Link {
    const k = `${local} ${remote}`;
    let l = this.links.get(k);
    if (!l) this.links.set(k, (l = new Link(local, remote)));
    return l;
  }

  private queueStore(local: string): KeyValStore<string[]> {
    return this.opts.storage.keyval<string[]>(local, 's2s_queue');
  }

  /** Where a domain goes: the host's route policies (darknet), else direct unless darknet_only. */
  route(local: string, remote: string): Route {
    const policies = this.opts.hosts.get(local)?.items<RoutePolicy>('route-policy') ?? [];
    return decideRoute(policies, remote, this.opts.settings(local).darknetOnly);
  }

  /** Send a stanza from a local domain to a remote one (the route/remote path). */
  async send(stanza: Element, local: string, remote: string): Promise<void> {
    const link = this.link(local, remote);
    if (link.stream?.state === 'ready') {
      link.stream.sendStanza(stanza);
      this.touch(link);
      return;
    }
    const route = this.route(local, remote);
    if (route.kind === 'refused') {
      if (!link.routeLogged) this.opts.log.warn({ remote, local }, `s2s: refused: ${route.reason}`);
      link.routeLogged = true;
      this.bounce(stanza, new StanzaError('remote-server-not-found', route.reason));
      return;
    }
    const q: Queued = { stanza, at: Date.now(), persisted: false };
    link.queue.push(q);
    if (stanza.name === 'message') {
      q.persisted = true;
      await this.persist(link);
    }
    this.connect(link);
  }

  /** Receiving role: ask `remote`'s authoritative server about a key, over our outbound link. */
  async verify(local: string, remote: string, streamId: string, key: string): Promise<VerifyOutcome> {
    const link = this.link(local, remote);
    if (!link.stream || link.stream.closed) {
      const route = this.route(local, remote);
      if (route.kind === 'refused') return { error: route.reason };
      this.connect(link);
      const stream = await this.waitForStream(link);
      if (!stream) return { error: link.lastError || 'could not connect' };
    }
    // A key check is traffic: the idle timer must not close the stream while the answer is due.
    this.touch(link);
    return (link.stream as S2SOut).verify(streamId, key);
  }

  private waitForStream(link: Link): Promise<S2SOut | undefined> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (link.stream && !link.stream.closed) return resolve(link.stream);
        if (!link.connecting) return resolve(undefined);
        setTimeout(check, 50);
      };
      check();
    });
  }

  private connect(link: Link): void {
    if (link.connecting || this.stopped || (link.stream && !link.stream.closed) || link.retryTimer) return;
    link.connecting = true;
    const { local, remote } = link;
    const s = this.opts.settings(local);
    const route = this.route(local, remote);
    if (route.kind === 'refused') {
      link.connecting = false;
      return this.bounceAll(link, 'remote-server-not-found', route.reason);
    }
    const started = Date.now();
    this.opts.connector.connect(route, { timeoutMs: s.connectTimeout * 1000 }).then(
      (socket) => {
        link.connecting = false;
        if (this.stopped || link.dropped) return void socket.destroy();
        const via = route.kind === 'socks5' ? `SOCKS5 ${route.proxyHost}:${route.proxyPort} → ${route.host}:${route.port} (${route.reason})` : 'direct';
        this.opts.log.info({ remote, via, ms: Date.now() - started }, 's2s: connected');
        link.stream = new S2SOut(socket, {
          local, remote,
          log: this.opts.log,
          keys: this.opts.keys,
          requireEncryption: s.requireEncryption,
          secureAuth: s.secureAuth,
          stanzaSizeLimit: s.stanzaSizeLimit,
          handshakeTimeout: s.handshakeTimeout,
          onReady: (stream) => this.ready(link, stream, started),
          onDone: (stream, reason, wasReady) => this.done(link, stream, reason, wasReady),
        });
        link.stream.limitRate(s.rateLimit);
      },
      (err: unknown) => {
        link.connecting = false;
        const why = err instanceof ConnectError ? err.message : String((err as Error)?.message ?? err);
        this.failed(link, why, err instanceof ConnectError && err.code === 'timeout');
      },
    );
  }

  private ready(link: Link, stream: S2SOut, started: number): void {
    link.attempts = 0;
    link.lastError = '';
    this.opts.log.info({ remote: link.remote, ms: Date.now() - started, queued: link.queue.length }, 's2s: stream ready');
    const queue = link.queue;
    link.queue = [];
    for (const q of queue) stream.sendStanza(q.stanza);
    if (queue.some((q) => q.persisted)) void this.persist(link);
    this.touch(link);
  }

  private done(link: Link, stream: S2SOut, reason: string, wasReady: boolean): void {
    if (link.stream === stream) link.stream = undefined;
    if (link.idleTimer) clearTimeout(link.idleTimer);
    if (wasReady && link.queue.length === 0) return;
    this.failed(link, reason, false);
  }

  private failed(link: Link, why: string, timedOut: boolean): void {
    link.lastError = why;
    this.opts.log.warn({ remote: link.remote, local: link.local, attempt: link.attempts + 1 }, `s2s: connection failed: ${why}`);
    if (link.queue.length === 0 || this.stopped) return;
    const deadline = this.opts.settings(link.local).sendDeadline * 1000;
    const now = Date.now();
    const expired = link.queue.filter((q) => now - q.at >= deadline);
    if (expired.length) {
      link.queue = link.queue.filter((q) => now - q.at < deadline);
      const condition = timedOut ? 'remote-server-timeout' : 'remote-server-not-found';
      for (const q of expired) this.bounce(q.stanza, new StanzaError(condition, `could not reach ${link.remote}: ${why}`));
      if (expired.some((q) => q.persisted)) void this.persist(link);
      if (link.queue.length === 0) {
        // Everything waiting was bounced: the next stanza starts a fresh round of attempts.
        link.attempts = 0;
        return;
      }
    }
    const delay = BACKOFF[Math.min(link.attempts, BACKOFF.length - 1)] as number;
    link.attempts++;
    const oldest = Math.min(...link.queue.map((q) => q.at));
    const wait = Math.max(0, Math.min(delay * 1000, oldest + deadline - now));
    link.retryTimer = setTimeout(() => {
      link.retryTimer = undefined;
      if (link.queue.length) this.connect(link);
    }, wait);
    link.retryTimer.unref();
  }

  private touch(link: Link): void {
    if (link.idleTimer) clearTimeout(link.idleTimer);
    const idle = this.opts.settings(link.local).idleTimeout * 1000;
    // lastActivity also moves without touch() (dialback answers on this stream), and a timer may
    // fire a millisecond early: when the stream is not idle yet, wait for the rest, never give up.
    const check = (): void => {
      const left = link.stream ? link.stream.lastActivity + idle - Date.now() : 0;
      if (left <= 0) {
        if (link.stream && !link.stream.closed) this.opts.log.info({ remote: link.remote, local: link.local, seconds: idle / 1000 }, 's2s: closing idle stream');
        return void link.stream?.close();
      }
      link.idleTimer = setTimeout(check, left);
      link.idleTimer.unref();
    };
    link.idleTimer = setTimeout(check, idle);
    link.idleTimer.unref();
  }

  private bounceAll(link: Link, condition: 'remote-server-not-found', text: string): void {
    const queue = link.queue;
    link.queue = [];
    for (const q of queue) this.bounce(q.stanza, new StanzaError(condition, text));
    if (queue.some((q) => q.persisted)) void this.persist(link);
  }

  private bounce(stanza: Element, err: StanzaError): void {
    const reply = errorReply(stanza, err);
    if (!reply) return;
    const host = this.opts.hosts.get(reply.attrs.to?.split('/')[0]?.split('@').pop() ?? '');
    if (host) void host.router.route(reply, undefined);
  }

  /** Write the link's queued messages (or delete the record when none are left). */
  private async persist(link: Link): Promise<void> {
    const msgs = link.queue.filter((q) => q.persisted).map((q) => q.stanza.toString());
    await this.queueStore(link.local).set(link.remote, msgs.length ? msgs : undefined);
  }

  /** Reload messages queued before a restart and start delivering them. */
  async resume(): Promise<void> {
    for (const local of this.opts.hosts.keys()) {
      const store = this.queueStore(local);
      for (const remote of await store.users()) {
        const saved = (await store.get(remote)) ?? [];
        const link = this.link(local, remote);
        for (const text of saved) {
          try {
            link.queue.push({ stanza: parseElement(text), at: Date.now(), persisted: true });
          } catch (err) {
            this.opts.log.warn({ remote, err: (err as Error).message }, 's2s: dropped an unreadable queued message');
          }
        }
        if (link.queue.length) {
          this.opts.log.info({ remote, queued: link.queue.length }, 's2s: resuming delivery of queued messages');
          this.connect(link);
        }
      }
    }
  }

  /** A local domain is no longer served (config reload): close its outbound streams; what it had queued stays persisted. */
  dropLocal(local: string): void {
    for (const [k, l] of this.links) {
      if (l.local !== local) continue;
      this.links.delete(k);
      l.dropped = true;
      if (l.retryTimer) clearTimeout(l.retryTimer);
      if (l.idleTimer) clearTimeout(l.idleTimer);
      l.queue = [];
      l.stream?.close();
    }
  }

  /** Close every outbound stream; queued messages stay persisted. */
  stop(): void {
    this.stopped = true;
    for (const l of this.links.values()) {
      if (l.retryTimer) clearTimeout(l.retryTimer);
      if (l.idleTimer) clearTimeout(l.idleTimer);
      l.stream?.close();
    }
  }
}
