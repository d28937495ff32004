// Outbound federation: one outgoing stream per (local domain, remote domain), stanzas queued
// while it is being built, retries with backoff, and a bounce only after s2s_send_deadline.
// Messages waiting in a queue are persisted, so a restart loses none of them; writes are
// batched (group commit), and queues are capped per link, per sender and in total, links in
// number (idle ones are forgotten), and the connections inbound dialback can make us open
// (s2s-limits.ts; issue 9).
// Tunnels are slow: first contact with an I2P destination can take minutes (docs/architecture.md).
import type { Element } from '../xml/element.js';
import { parseElement } from '../xml/parse.js';
import { StanzaError, errorReply, type StanzaErrorCondition } from '../core/errors.js';
import type { Host } from '../core/host.js';
import type { Logger } from '../core/log.js';
import type { KeyValStore, StorageBackend } from '../storage/store.js';
import type { Connector, Route } from '../net/connector.js';
import { ConnectError } from '../net/connector.js';
import type { RateLimit } from '../net/rate-limit.js';
import { decideRoute, type BuiltInRouting } from '../net/connect.js';
import { certificateCanProve } from '../net/darknet-route.js';
import { DialbackKeys } from './dialback.js';
import { S2SOut, serverStanzaText } from './s2s-out.js';
import type { S2SIn, VerifyOutcome } from './s2s-in.js';
import { BatchWriter } from './batch-writer.js';
import { routeLabel, type RouteLabel, type StreamTally } from './tally.js';
import { DIALBACK_DIAL_BURST, DIALBACK_DIAL_INTERVAL_MS, MAX_LINKS, MAX_REMOTE_DOMAIN_BYTES, TokenBucket, queueRefusal, type Usage } from './s2s-limits.js';

export interface S2SManagerOptions {
  hosts: ReadonlyMap<string, Host>;
  log: Logger;
  storage: StorageBackend;
  connector: Connector;
  keys: DialbackKeys;
  /** Per-local-host settings. */
  settings(host: string): {
    /** darknet_only and the SOCKS5 proxy, for domains no route policy decides. */
    darknet: BuiltInRouting;
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
  /** Whether an inbound stream on which `remote` is verified for `local` is open. */
  inboundUp?(local: string, remote: string): boolean;
  /** Where stanzas and connection times are counted (the operator's metrics), if anywhere. */
  tally?: StreamTally;
}

/** One outbound link as the operator's metrics see it: its route and queue, never its domains. */
export interface LinkStats {
  route: RouteLabel;
  state: 'connecting' | 'ready' | 'waiting' | 'idle';
  queuedStanzas: number;
  queuedBytes: number;
}

/** Seconds between connection attempts: 5 s, 15 s, 30 s, 1 min, 2 min, then every 5 min. */
const BACKOFF = [5, 15, 30, 60, 120, 300];

/** A waiting stanza, kept as text: a parsed tree can cost many times its size (issue 9). */
interface Queued { text: string; at: number; persisted: boolean; sender: string; bytes: number }

/** The link from one local domain to one remote domain. */
class Link {
  stream: S2SOut | undefined;
  connecting = false;
  queue: Queued[] = [];
  /** Bytes of the stanzas in `queue`. */
  bytes = 0;
  /** Persists the queued messages, batching writes that overlap. */
  writer: BatchWriter | undefined;
  attempts = 0;
  lastError = '';
  retryTimer: NodeJS.Timeout | undefined;
  idleTimer: NodeJS.Timeout | undefined;
  routeLogged = false;
  /** How the last connection was routed (metrics); 'refused' until one is tried. */
  route: RouteLabel = 'refused';
  /** Its local domain was removed by a config reload: a connection still under way is dropped. */
  dropped = false;
  /** verify() calls waiting for the connection under way (resolved by S2SManager.settle). */
  waiters: Array<(stream: S2SOut | undefined) => void> = [];
  constructor(readonly local: string, readonly remote: string) {}
}

/** The bare JID (or domain) a stanza is from: whose queue allowance it uses. */
function senderOf(stanza: Element): string {
  return (stanza.attrs.from ?? '').split('/')[0] as string;
}

export class S2SManager {
  private readonly links = new Map<string, Link>();
  private stopped = false;
  /** Queued stanzas and bytes per sender, over all links. */
  private readonly senders = new Map<string, Usage>();
  private queuedBytes = 0;
  /** New connections that inbound dialback may make us open (amplification, issue 9). */
  private readonly dialbackDials = new TokenBucket(DIALBACK_DIAL_BURST, DIALBACK_DIAL_INTERVAL_MS);

  constructor(private readonly opts: S2SManagerOptions) {}

  /** The link for a pair, made on demand; undefined when MAX_LINKS are in use and none is idle. */
  private link(local: string, remote: string): Link | undefined {
    const k = `${local} ${remote}`;
    let l = this.links.get(k);
    if (l) return l;
    if (this.links.size >= MAX_LINKS) {
      for (const other of this.links.values()) if (this.forget(other)) break;
      if (this.links.size >= MAX_LINKS) return undefined;
    }
    this.links.set(k, (l = new Link(local, remote)));
    return l;
  }

  /** Drop a link from memory when nothing is under way on it; true when it was dropped. */
  private forget(link: Link): boolean {
    if (link.queue.length || link.connecting || link.retryTimer || (link.stream && !link.stream.closed)) return false;
    // A write still under way must finish before a new link for the pair may write the same record.
    if (link.writer && !link.writer.idle) return false;
    if (link.idleTimer) clearTimeout(link.idleTimer);
    return this.links.delete(`${link.local} ${link.remote}`);
  }

  /** Why federation with `remote` is refused before any routing, or undefined. */
  private refusal(remote: string): string | undefined {
    if (this.opts.hosts.has(remote)) return `${remote} is a domain of this server`;
    if (Buffer.byteLength(remote) > MAX_REMOTE_DOMAIN_BYTES) return `a domain longer than ${MAX_REMOTE_DOMAIN_BYTES} bytes cannot be reached`;
    return undefined;
  }

  /** Add a stanza to a link's queue, counting it for the link, its sender and the total. */
  private enqueue(link: Link, q: Queued): void {
    link.queue.push(q);
    link.bytes += q.bytes;
    this.queuedBytes += q.bytes;
    const u = this.senders.get(q.sender) ?? { stanzas: 0, bytes: 0 };
    u.stanzas++;
    u.bytes += q.bytes;
    this.senders.set(q.sender, u);
  }

  /** Take stanzas out of a link's queue (sent, bounced or dropped), releasing what they counted. */
  private dequeue(link: Link, which: (q: Queued) => boolean): Queued[] {
    const out: Queued[] = [];
    const keep: Queued[] = [];
    for (const q of link.queue) (which(q) ? out : keep).push(q);
    link.queue = keep;
    for (const q of out) {
      link.bytes -= q.bytes;
      this.queuedBytes -= q.bytes;
      const u = this.senders.get(q.sender);
      if (u && --u.stanzas <= 0) this.senders.delete(q.sender);
      else if (u) u.bytes -= q.bytes;
    }
    return out;
  }

  private queueStore(local: string): KeyValStore<string[]> {
    return this.opts.storage.keyval<string[]>(local, 's2s_queue');
  }

  /**
   * Where a domain goes: the host's route policies (darknet), else the built-in darknet routing.
   * A subdomain of one of our own I2P domains that is not configured here is refused unless
   * darknet_map names it: it would be dialled as our own b32 name (docs/i2p.md), reaching this
   * very server, which does not serve it. (A clearnet subdomain, dialled directly, may be
   * another server.)
   */
  route(local: string, remote: string): Route {
    const policies = this.opts.hosts.get(local)?.items('route-policy') ?? [];
    const route = decideRoute(policies, remote, this.opts.settings(local).darknet);
    if (route.kind !== 'socks5' || route.reason === 'mapped') return route;
    const parent = this.ownParent(remote);
    if (parent) return { kind: 'refused', reason: `${remote} is not served here, and it is under ${parent}, a domain of this server` };
    return route;
  }

  /** The local domain `remote` is a subdomain of, if any. */
  private ownParent(remote: string): string | undefined {
    const d = remote.toLowerCase();
    for (const host of this.opts.hosts.keys()) if (d.endsWith(`.${host}`)) return host;
    return undefined;
  }

  /** Send a stanza from a local domain to a remote one (the route/remote path). */
  async send(stanza: Element, local: string, remote: string): Promise<void> {
    const refused = this.refusal(remote);
    if (refused) return this.bounce(stanza, new StanzaError('remote-server-not-found', refused));
    const link = this.link(local, remote);
    if (!link) return this.bounce(stanza, new StanzaError('resource-constraint', 'this server is connected to too many remote servers; try again later'));
    if (link.stream?.sendStanza(stanza)) return this.touch(link);
    const route = this.route(local, remote);
    if (route.kind === 'refused') {
      if (!link.routeLogged) this.opts.log.warn({ remote, local }, `s2s: refused: ${route.reason}`);
      link.routeLogged = true;
      this.bounce(stanza, new StanzaError('remote-server-not-found', route.reason));
      return;
    }
    const text = serverStanzaText(stanza);
    const q: Queued = { text, at: Date.now(), persisted: stanza.name === 'message', sender: senderOf(stanza), bytes: Buffer.byteLength(text) };
    const full = queueRefusal({ stanzas: link.queue.length, bytes: link.bytes }, this.senders.get(q.sender) ?? { stanzas: 0, bytes: 0 }, this.queuedBytes, q.bytes);
    if (full) {
      this.opts.log.warn({ remote, local, queued: link.queue.length }, 's2s: queue full, stanza refused');
      this.bounce(stanza, new StanzaError('resource-constraint', full));
      this.forget(link);
      return;
    }
    this.enqueue(link, q);
    if (q.persisted) {
      try {
        await this.persist(link);
      } catch (err) {
        // Never keep in memory what could not be made durable: the sender learns it now.
        this.opts.log.error({ remote, local, err: (err as Error).message }, 's2s: could not store a queued message');
        if (this.dequeue(link, (x) => x === q).length) this.bounce(stanza, new StanzaError('internal-server-error', 'the message could not be queued for the remote server'));
        this.forget(link);
        return;
      }
    }
    this.connect(link);
  }

  /** Receiving role: ask `remote`'s authoritative server about a key, over our outbound link. */
  async verify(local: string, remote: string, streamId: string, key: string): Promise<VerifyOutcome> {
    const refused = this.refusal(remote);
    if (refused) return { error: refused };
    const link = this.link(local, remote);
    if (!link) return { error: 'this server is connected to too many remote servers', condition: 'resource-constraint' };
    if (!link.stream || link.stream.closed) {
      const route = this.route(local, remote);
      if (route.kind === 'refused') {
        this.forget(link);
        return { error: route.reason };
      }
      // A new connection on a stranger's word: within a global budget (dialback amplification).
      if (!link.connecting && !link.retryTimer && !this.dialbackDials.take()) {
        this.forget(link);
        this.opts.log.warn({ remote, local }, 's2s: too many dialback verifications need new connections; refused one');
        return { error: 'too many dialback verifications at once; try again later', condition: 'resource-constraint' };
      }
      this.connect(link);
      const stream = await this.waitForStream(link);
      if (!stream) return { error: link.lastError || 'could not connect' };
    }
    // A key check is traffic: the idle timer must not close the stream while the answer is due.
    this.touch(link);
    return (link.stream as S2SOut).verify(streamId, key);
  }

  /** The link's stream once the connection under way gives one, undefined when it fails (told by settle()). */
  private waitForStream(link: Link): Promise<S2SOut | undefined> {
    if (link.stream && !link.stream.closed) return Promise.resolve(link.stream);
    if (!link.connecting) return Promise.resolve(undefined);
    return new Promise((resolve) => link.waiters.push(resolve));
  }

  /** The connection attempt is over: tell whoever waits for the link's stream. */
  private settle(link: Link): void {
    link.connecting = false;
    const stream = link.stream && !link.stream.closed ? link.stream : undefined;
    for (const resolve of link.waiters.splice(0)) resolve(stream);
  }

  private connect(link: Link): void {
    if (link.connecting || this.stopped || (link.stream && !link.stream.closed) || link.retryTimer) return;
    link.connecting = true;
    const { local, remote } = link;
    const s = this.opts.settings(local);
    const route = this.route(local, remote);
    if (route.kind === 'refused') {
      this.settle(link);
      return this.bounceAll(link, 'remote-server-not-found', route.reason);
    }
    const started = Date.now();
    link.route = routeLabel(route);
    this.opts.connector.connect(route, { timeoutMs: s.connectTimeout * 1000 }).then(
      (socket) => {
        this.opts.tally?.s2sConnect(link.route, 'tunnel', (Date.now() - started) / 1000);
        if (this.stopped || link.dropped) {
          this.settle(link);
          return void socket.destroy();
        }
        const via = route.kind === 'socks5' ? `SOCKS5 ${route.proxyHost}:${route.proxyPort} → ${route.host}:${route.port} (${route.reason})` : 'direct';
        this.opts.log.info({ remote, via, ms: Date.now() - started }, 's2s: connected');
        link.stream = new S2SOut(socket, {
          local, remote,
          log: this.opts.log,
          keys: this.opts.keys,
          // s2s_secure_auth also means "never dialback in clear", for every peer; whether a
          // certificate must prove this peer is the route owner's call (no CA signs .i2p names).
          requireEncryption: s.requireEncryption || s.secureAuth,
          secureAuth: s.secureAuth && certificateCanProve(remote),
          stanzaSizeLimit: s.stanzaSizeLimit,
          handshakeTimeout: s.handshakeTimeout,
          onReady: (stream) => this.ready(link, stream, started),
          onDone: (stream, reason, wasReady) => this.done(link, stream, reason, wasReady),
        });
        link.stream.limitRate(s.rateLimit);
        link.stream.countInto(this.opts.tally, 's2s');
        this.settle(link);
      },
      (err: unknown) => {
        this.settle(link);
        const why = err instanceof ConnectError ? err.message : String((err as Error)?.message ?? err);
        this.failed(link, why, err instanceof ConnectError && err.code === 'timeout');
      },
    );
  }

  private ready(link: Link, stream: S2SOut, started: number): void {
    link.attempts = 0;
    link.lastError = '';
    this.opts.tally?.s2sConnect(link.route, 'stream', (Date.now() - started) / 1000);
    this.opts.log.info({ remote: link.remote, ms: Date.now() - started, queued: link.queue.length }, 's2s: stream ready');
    const sent = this.dequeue(link, (q) => stream.sendStanza(q.text));
    if (sent.some((q) => q.persisted)) this.persistLater(link);
    this.touch(link);
  }

  private done(link: Link, stream: S2SOut, reason: string, wasReady: boolean): void {
    if (link.stream === stream) link.stream = undefined;
    if (link.idleTimer) clearTimeout(link.idleTimer);
    if (wasReady && link.queue.length === 0) {
      if (stream.lost) this.lost(link.local, link.remote, reason);
      return void this.forget(link);
    }
    if (stream.unknownDomain) {
      this.lost(link.local, link.remote, reason);
      // Permanent: the peer does not serve this domain. No retries; the next stanza tries afresh.
      link.lastError = reason;
      link.attempts = 0;
      this.opts.log.warn({ remote: link.remote, local: link.local, queued: link.queue.length }, `s2s: ${reason}; bouncing what waits`);
      return this.bounceAll(link, 'remote-server-not-found', `${link.remote} is not served by the server it routes to: ${reason}`);
    }
    this.failed(link, reason, false);
  }

  private failed(link: Link, why: string, timedOut: boolean): void {
    link.lastError = why;
    this.opts.tally?.s2sConnectFailed(link.route);
    this.lost(link.local, link.remote, why);
    this.opts.log.warn({ remote: link.remote, local: link.local, attempt: link.attempts + 1 }, `s2s: connection failed: ${why}`);
    if (link.queue.length === 0 || this.stopped) return void this.forget(link);
    const deadline = this.opts.settings(link.local).sendDeadline * 1000;
    const now = Date.now();
    const expired = this.dequeue(link, (q) => now - q.at >= deadline);
    if (expired.length) {
      const condition = timedOut ? 'remote-server-timeout' : 'remote-server-not-found';
      for (const q of expired) this.bounceText(q.text, new StanzaError(condition, `could not reach ${link.remote}: ${why}`));
      if (expired.some((q) => q.persisted)) this.persistLater(link);
      if (link.queue.length === 0) {
        // Everything waiting was bounced: the next stanza starts a fresh round of attempts.
        link.attempts = 0;
        return void this.forget(link);
      }
    }
    const delay = BACKOFF[Math.min(link.attempts, BACKOFF.length - 1)] as number;
    link.attempts++;
    const oldest = Math.min(...link.queue.map((q) => q.at));
    const wait = Math.max(0, Math.min(delay * 1000, oldest + deadline - now));
    link.retryTimer = setTimeout(() => {
      link.retryTimer = undefined;
      if (link.queue.length) this.connect(link);
      else this.forget(link);
    }, wait);
    link.retryTimer.unref();
  }

  /**
   * `remote` failed us (`why`): unless a verified stream with it is still up either way, tell
   * `local`'s modules it is gone ('s2s-remote-lost'), so they drop what its users' presence
   * left behind (they will not send unavailable now).
   */
  private lost(local: string, remote: string, why: string): void {
    const out = this.links.get(`${local} ${remote}`)?.stream;
    if ((out && !out.closed && out.state === 'ready') || this.opts.inboundUp?.(local, remote)) return;
    const host = this.opts.hosts.get(local);
    if (!host) return;
    Promise.resolve(host.events.fire('s2s-remote-lost', { local, remote, reason: why }))
      .catch((err: unknown) => this.opts.log.warn({ remote, local, err: (err as Error).message }, 's2s: an s2s-remote-lost handler failed'));
  }

  /** An inbound stream ended (main wires it): when it was lost, each domain verified on it may be gone. */
  inboundEnded(stream: S2SIn): void {
    if (!stream.lost) return;
    for (const pair of stream.verified) {
      const [remote, local] = pair.split(' ') as [string, string];
      this.lost(local, remote, 'the inbound stream was lost');
    }
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

  private bounceAll(link: Link, condition: StanzaErrorCondition, text: string): void {
    const queue = this.dequeue(link, () => true);
    for (const q of queue) this.bounceText(q.text, new StanzaError(condition, text));
    if (queue.some((q) => q.persisted)) this.persistLater(link);
    this.forget(link);
  }

  private bounceText(text: string, err: StanzaError): void {
    this.bounce(parseElement(text), err);
  }

  private bounce(stanza: Element, err: StanzaError): void {
    const reply = errorReply(stanza, err);
    if (!reply) return;
    const host = this.opts.hosts.get(reply.attrs.to?.split('/')[0]?.split('@').pop() ?? '');
    if (host) void host.router.route(reply, undefined);
  }

  /** Make the link's queued messages durable (or delete the record when none are left); overlapping calls share writes. */
  private persist(link: Link): Promise<void> {
    link.writer ??= new BatchWriter(() => {
      const msgs = link.queue.filter((q) => q.persisted).map((q) => q.text);
      return this.queueStore(link.local).set(link.remote, msgs.length ? msgs : undefined);
    });
    return link.writer.request();
  }

  /** persist() for removals: nobody waits; on failure the record keeps sent messages, sent again after a restart. */
  private persistLater(link: Link): void {
    this.persist(link).catch((err: unknown) => this.opts.log.error({ remote: link.remote, err: (err as Error).message }, 's2s: could not update the stored queue'));
  }

  /** Reload messages queued before a restart and start delivering them. */
  async resume(): Promise<void> {
    for (const local of this.opts.hosts.keys()) {
      const store = this.queueStore(local);
      for (const remote of await store.users()) {
        const saved = (await store.get(remote)) ?? [];
        const link = this.link(local, remote);
        if (!link) {
          this.opts.log.warn({ remote, queued: saved.length }, 's2s: too many links; these queued messages stay stored until a restart');
          continue;
        }
        for (const text of saved) {
          try {
            const stanza = parseElement(text);
            const wire = serverStanzaText(stanza);
            this.enqueue(link, { text: wire, at: Date.now(), persisted: true, sender: senderOf(stanza), bytes: Buffer.byteLength(wire) });
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

  /** Every outbound link's route, state and queue, for the operator's metrics (no domain names). */
  linkStats(): LinkStats[] {
    const out: LinkStats[] = [];
    for (const l of this.links.values()) {
      const up = l.stream && !l.stream.closed;
      const state = up && l.stream?.state === 'ready' ? 'ready' : up || l.connecting ? 'connecting' : l.retryTimer ? 'waiting' : 'idle';
      out.push({ route: l.route, state, queuedStanzas: l.queue.length, queuedBytes: l.bytes });
    }
    return out;
  }

  /** The route label `local` would use for `remote` (inbound links' metrics). */
  routeLabel(local: string, remote: string): RouteLabel {
    return routeLabel(this.route(local, remote));
  }

  /** A local domain is no longer served (config reload): close its outbound streams; what it had queued stays persisted. */
  dropLocal(local: string): void {
    for (const [k, l] of this.links) {
      if (l.local !== local) continue;
      this.links.delete(k);
      l.dropped = true;
      if (l.retryTimer) clearTimeout(l.retryTimer);
      if (l.idleTimer) clearTimeout(l.idleTimer);
      this.dequeue(l, () => true);
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
