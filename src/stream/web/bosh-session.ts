// One BOSH session (XEP-0124 with XEP-0206): the c2s stream's transport when a client talks to
// /http-bind. The client's HTTP requests carry `<body/>` wrappers; the session holds up to `hold`
// of them open to answer with what the stream sends, each for at most `wait` seconds. Request ids
// (rid) must come in order within a window of `requests`; a session without a request held for
// `inactivity` seconds is gone. No library fits the server side of BOSH (the npm packages are
// clients or unmaintained), so this is a small, strict implementation of what XEP-0206 clients
// (converse.js / Strophe) use: no polling sessions kept apart, no `key` sequences, no resending
// of answered requests (a repeated or skipped rid ends the session with item-not-found).
// References: XEP-0124 §7 (session creation), §9 (requests), §11 (overactivity), §12 (inactivity),
// §14 (rid window), §17 (termination), §19 (errors); XEP-0206 §5 (restart), §7 (stream errors).
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { NS } from '../../xml/ns.js';
import { escapeAttr, type Element } from '../../xml/element.js';
import { StreamError } from '../../core/errors.js';
import { STREAM_END, qualify, type StreamHeader, type Transport, type TransportSink } from '../transport.js';

/** Queued output past which write() reports that the client is not fetching. */
const HIGH_WATER = 64 * 1024;
/** Largest rid (XEP-0124 §14: below 2^53 so it never loses precision). */
const MAX_RID = 2 ** 53 - 1;

/** The limits of one session, from the bosh_* options. */
export interface BoshLimits {
  /** bosh_max_wait: longest time a request is held, in seconds. */
  maxWait: number;
  /** bosh_max_requests: requests the client may have open at once (hold is one less). */
  maxRequests: number;
  /** bosh_max_inactivity: seconds without a request after which the session ends. */
  inactivity: number;
}

/** A terminal BOSH error condition (XEP-0124 §19), with the HTTP status of the legacy mapping. */
export type BoshCondition = 'bad-request' | 'item-not-found' | 'policy-violation' | 'host-unknown' | 'remote-stream-error' | 'system-shutdown' | 'internal-server-error';

/** A request's parsed `<body/>`. */
export interface BoshRequest {
  readonly attrs: Record<string, string>;
  readonly children: { el: Element; bytes: number }[];
}

/** What the stream is told, in order: an element, a (re)opened stream, the end of the stream. */
type Input = { el: Element; bytes: number } | { open: Record<string, string> } | 'end';

/** An attribute in the urn:xmpp:xbosh namespace (`xmpp:restart`, whatever the prefix). */
export function xboshAttr(attrs: Record<string, string>, local: string): string | undefined {
  for (const [k, v] of Object.entries(attrs)) {
    const i = k.indexOf(':');
    if (i > 0 && k.slice(i + 1) === local && attrs[`xmlns:${k.slice(0, i)}`] === NS.XBOSH) return v;
  }
  return undefined;
}

interface Held {
  readonly rid: number;
  readonly res: ServerResponse;
  timer: NodeJS.Timeout | undefined;
}

/** Write a `<body/>` response (terminal when `condition` or `terminate`). */
export function sendBody(res: ServerResponse, attrs: Record<string, string>, content = '', status = 200): void {
  if (res.writableEnded || res.destroyed) return;
  let head = `<body xmlns='${NS.HTTPBIND}'`;
  for (const [k, v] of Object.entries(attrs)) head += ` ${k}='${escapeAttr(v)}'`;
  const text = content ? `${head}>${content}</body>` : `${head}/>`;
  res.writeHead(status, { 'Content-Type': 'text/xml; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

/** A rid attribute as a number, or undefined when it is not one (XEP-0124 §14). */
export function parseRid(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,16}$/.test(v)) return undefined;
  const n = Number(v);
  return n > 0 && n <= MAX_RID ? n : undefined;
}

export class BoshSession implements Transport {
  readonly kind = 'bosh' as const;
  readonly canStartTls = false;
  readonly sid = randomBytes(18).toString('base64url');
  private sink: TransportSink | undefined;
  /** Requests held open for output, oldest first. */
  private readonly held: Held[] = [];
  /** Requests that came ahead of their turn (rid above the next one), by rid. */
  private readonly early = new Map<number, { req: BoshRequest; res: ServerResponse }>();
  /** The highest rid taken in order. */
  private lastRid: number;
  /** Output pieces waiting for a request, and their size. */
  private queue: string[] = [];
  private queued = 0;
  private waitingDrain = false;
  /** Input waiting while the stream has paused it (flow control; bounded by the requests' bodies). */
  private readonly input: Input[] = [];
  private paused = false;
  /** The creation request has not been answered yet (its answer carries the session's attributes). */
  private creating = true;
  private header_: StreamHeader | undefined;
  /** The stream ended (STREAM_END written): the next answer terminates the session. */
  private ending = false;
  private gone = false;
  private inactivityTimer: NodeJS.Timeout | undefined;
  readonly wait: number;
  readonly hold: number;

  /**
   * `creation` is the session creation request (already checked by the endpoint); `onGone` runs
   * once when the session is over (the endpoint forgets its sid).
   */
  constructor(creation: BoshRequest, private readonly limits: BoshLimits, readonly secure: boolean, private readonly onGone: (s: BoshSession) => void) {
    const rid = parseRid(creation.attrs.rid) as number;
    this.lastRid = rid - 1;
    const wait = Number(creation.attrs.wait);
    this.wait = Number.isFinite(wait) && wait > 0 ? Math.min(Math.floor(wait), limits.maxWait) : limits.maxWait;
    const hold = Number(creation.attrs.hold);
    this.hold = Number.isInteger(hold) && hold >= 0 ? Math.min(hold, limits.maxRequests - 1) : 1;
  }

  /** The `<stream:stream>` attributes the creation or a restart request stands for (XEP-0206 §5). */
  private static streamAttrs(attrs: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = { xmlns: NS.CLIENT, 'xmlns:stream': NS.STREAMS, version: '1.0' };
    if (attrs.to !== undefined) out.to = attrs.to;
    if (attrs['xml:lang'] !== undefined) out['xml:lang'] = attrs['xml:lang'];
    return out;
  }

  // ---- Transport ----

  attach(sink: TransportSink): void {
    this.sink = sink;
  }

  /** Answer the creation request: the stream opens (the features follow as output). */
  start(creation: BoshRequest, res: ServerResponse): void {
    this.lastRid++;
    this.hold_(this.lastRid, res);
    this.push({ open: BoshSession.streamAttrs(creation.attrs) });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** Give the stream what it is ready for, in order. */
  private push(...items: Input[]): void {
    this.input.push(...items);
    this.pump();
  }

  private pump(): void {
    while (!this.paused && !this.gone && this.input.length) {
      const item = this.input.shift() as Input;
      if (item === 'end') this.sink?.end();
      else if ('open' in item) this.sink?.open(item.open);
      else this.sink?.element(item.el, item.bytes);
    }
  }

  restart(): void {}

  header(h: StreamHeader): string {
    this.header_ = h;
    return '';
  }

  write(pieces: readonly string[]): boolean {
    if (this.gone) return true;
    for (const p of pieces) {
      if (p === STREAM_END) this.ending = true;
      else if (p !== '') {
        const q = qualify(p, NS.CLIENT, NS.STREAMS);
        this.queue.push(q);
        this.queued += q.length;
      }
    }
    this.answer();
    if (this.queued < HIGH_WATER) return true;
    this.waitingDrain = true;
    return false;
  }

  get pending(): number {
    return this.queued;
  }

  get destroyed(): boolean {
    return this.gone;
  }

  end(): void {
    this.ending = true;
    this.answer();
  }

  destroy(): void {
    if (this.gone) return;
    this.ending = true;
    this.answer();
    this.finish();
  }

  // ---- requests ----

  /** A request for this session (sid matched): check its rid, then take it in order. */
  request(req: BoshRequest, res: ServerResponse): void {
    if (this.gone) return sendBody(res, { type: 'terminate', condition: 'item-not-found' }, '', 404);
    const rid = parseRid(req.attrs.rid);
    if (rid === undefined || rid <= this.lastRid || rid > this.lastRid + this.limits.maxRequests || this.early.has(rid)) {
      // XEP-0124 §14.1: a rid outside the window ends the session.
      sendBody(res, { type: 'terminate', condition: 'item-not-found' }, '', 404);
      return this.fail('item-not-found', rid === undefined ? 'the request has no valid rid' : `rid ${rid} is outside the window after ${this.lastRid}`);
    }
    if (this.held.length + this.early.size + 1 > this.limits.maxRequests) {
      // XEP-0124 §11: more requests open than the session allows.
      sendBody(res, { type: 'terminate', condition: 'policy-violation' }, '', 403);
      return this.fail('policy-violation', `more than ${this.limits.maxRequests} requests at once`);
    }
    this.early.set(rid, { req, res });
    for (let next = this.early.get(this.lastRid + 1); next; next = this.early.get(this.lastRid + 1)) {
      this.early.delete(this.lastRid + 1);
      this.lastRid++;
      this.take(next.req, next.res);
    }
  }

  /** A request in rid order: its payload goes to the stream, then it waits for output. */
  private take(req: BoshRequest, res: ServerResponse): void {
    const a = req.attrs;
    const restart = xboshAttr(a, 'restart');
    if (restart === 'true' || restart === '1') {
      if (req.children.length) {
        sendBody(res, { type: 'terminate', condition: 'bad-request' }, '', 400);
        return this.fail('bad-request', 'a restart request carries no payload (XEP-0206 §5)');
      }
      this.hold_(this.lastRid, res);
      return this.push({ open: BoshSession.streamAttrs(a) });
    }
    this.hold_(this.lastRid, res);
    // A terminate request's stanzas (an unavailable presence, typically) first, then the end.
    this.push(...req.children, ...(a.type === 'terminate' ? ['end' as const] : []));
  }

  /** Hold a request for output; answer the oldest beyond `hold` at once (XEP-0124 §10). */
  private hold_(rid: number, res: ServerResponse): void {
    if (this.inactivityTimer) clearTimeout(this.inactivityTimer);
    this.inactivityTimer = undefined;
    const h: Held = { rid, res, timer: undefined };
    h.timer = setTimeout(() => this.respond(h), this.wait * 1000);
    h.timer.unref();
    res.once('close', () => this.dropped(h));
    this.held.push(h);
    this.answer();
  }

  /** The client gave up on a held request (its HTTP connection closed). */
  private dropped(h: Held): void {
    const i = this.held.indexOf(h);
    if (i < 0) return;
    this.held.splice(i, 1);
    if (h.timer) clearTimeout(h.timer);
    this.idle();
  }

  /** Answer what can be answered now: output or the end to the oldest request, and any held beyond `hold`. */
  private answer(): void {
    if (this.creating && !this.header_) return; // the creation answer waits for the stream's header
    while (this.held.length && (this.queue.length || this.ending || this.held.length > this.hold || this.creating)) {
      this.respond(this.held[0] as Held);
      if (this.gone) return;
    }
  }

  private respond(h: Held): void {
    const i = this.held.indexOf(h);
    if (i < 0) return;
    this.held.splice(i, 1);
    if (h.timer) clearTimeout(h.timer);
    const attrs: Record<string, string> = {};
    if (this.creating) {
      this.creating = false;
      Object.assign(attrs, {
        'xmlns:xmpp': NS.XBOSH, 'xmlns:stream': NS.STREAMS, sid: this.sid, wait: String(this.wait), hold: String(this.hold),
        requests: String(this.limits.maxRequests), inactivity: String(this.limits.inactivity), polling: '5', ver: '1.6',
        secure: 'true', 'xmpp:version': '1.0', 'xmpp:restartlogic': 'true',
      });
      if (this.header_?.from) attrs.from = this.header_.from;
      if (this.header_) attrs.authid = this.header_.id;
    }
    const content = this.queue.join('');
    const streamError = this.queue.some((p) => p.startsWith('<stream:error'));
    this.queue = [];
    this.queued = 0;
    const last = this.ending;
    if (last) {
      attrs.type = 'terminate';
      if (streamError) {
        attrs.condition = 'remote-stream-error';
        attrs['xmlns:stream'] = NS.STREAMS;
      }
    }
    sendBody(h.res, attrs, content);
    if (last) return this.finish();
    if (this.waitingDrain) {
      this.waitingDrain = false;
      this.sink?.drain();
    }
    this.idle();
  }

  /** No request held: the inactivity clock runs (XEP-0124 §12). */
  private idle(): void {
    if (this.gone || this.held.length || this.inactivityTimer) return;
    this.inactivityTimer = setTimeout(() => {
      this.inactivityTimer = undefined;
      this.finish(); // the client is gone, as a dropped TCP connection
    }, this.limits.inactivity * 1000);
    this.inactivityTimer.unref();
  }

  /** End the session for a protocol error of the client's. */
  private fail(condition: BoshCondition, text: string): void {
    this.sink?.fail(new StreamError(condition === 'policy-violation' ? 'policy-violation' : 'bad-format', `BOSH ${condition}: ${text}`));
    this.destroy();
  }

  /** The session is over: answer what is held with a terminate, forget it, tell the stream. */
  private finish(): void {
    if (this.gone) return;
    this.gone = true;
    if (this.inactivityTimer) clearTimeout(this.inactivityTimer);
    for (const h of this.held.splice(0)) {
      if (h.timer) clearTimeout(h.timer);
      sendBody(h.res, { type: 'terminate' });
    }
    for (const { res } of this.early.values()) sendBody(res, { type: 'terminate', condition: 'item-not-found' }, '', 404);
    this.early.clear();
    this.input.length = 0;
    this.queue = [];
    this.queued = 0;
    this.onGone(this);
    this.sink?.closed();
  }
}
