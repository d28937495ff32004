// What every XMPP stream shares, c2s or s2s: one transport (a TCP socket upgradable to TLS, a
// WebSocket, a BOSH session: src/stream/transport.ts), a strict parser, stanzas handled one at a
// time in order (a c2s stream may pipeline messages: PIPELINE_MAX), output batched per tick,
// backpressure both ways, and closing with an optional stream error. Subclasses add their state machine; none of them sees the transport's framing.
// References: RFC 6120 §4 (streams), §5 (STARTTLS).
//
// Memory per stream is bounded in bytes (docs/limits.md, "Worst case memory per connection"):
// - input: the parser holds at a stanza boundary and the socket is paused while the stanzas read
//   ahead of the handler reach twice the stanza size limit, or, before the peer is trusted
//   (authenticated), while one element waits or is being handled (e.g. <auth/> during PBKDF2);
// - output: the transport's unsent bytes plus this tick's batch may not pass OUTPUT_LIMIT; past it
//   the peer is not reading and the stream ends with `resource-constraint` (c2s sessions with
//   XEP-0198 resumption hibernate instead: see outputOverflow());
// - rate: a token bucket (the `limits` option) pauses reading from a peer sending too fast.
import { randomId } from '../random-id.js';
import { Socket } from 'node:net';
import { Element } from '../xml/element.js';
import { StreamParser, type ParserHandlers, type XmlErrorCondition } from '../xml/parser.js';
import { TokenBucket, type RateLimit } from '../net/rate-limit.js';
import { StreamError } from '../core/errors.js';
import { Turn } from '../core/turn.js';
import type { Level, Logger } from '../core/log.js';
import { stanzaKind, type StreamLink, type StreamTally } from './tally.js';
import { STREAM_END, type Transport, type TransportSink } from './transport.js';
import { TcpTransport, type TlsUpgrade } from './tcp-transport.js';

/**
 * Unsent output (bytes in the socket, plus characters of this tick's batch) past which the peer
 * is taken as not reading: a few MiB, so a slow I2P tunnel still absorbs a burst of presence.
 */
export const OUTPUT_LIMIT = 2 * 1024 * 1024;
/** Stanzas read ahead of the handler, in bytes, as a multiple of the stanza size limit. */
const INBOX_STANZAS = 2;
/**
 * Stanzas handled side by side at most: pipelined messages (src/core/turn.ts) whose handlers
 * released their turn and still run. Their bytes are bounded too, by the inbox limit.
 */
export const PIPELINE_MAX = 32;
/** Milliseconds to wait for the peer's `</stream:stream>` after ours before dropping the socket. */
const CLOSE_GRACE_MS = 5000;

/** Settled already: what `lastSettled` is while nothing is in flight (one for every stream). */
const SETTLED: Promise<void> = Promise.resolve();

/** Marker for the end of the peer's stream in the input queue. */
const END = new Element('</stream:stream>');

export abstract class XmlStream {
  readonly id = randomId(9);
  secure = false;
  protected readonly transport: Transport;
  protected readonly parser: StreamParser;
  /** Our stream header has been written on the current (restarted) stream. */
  protected headerSent = false;
  private isClosed = false;
  /**
   * How the stream ended: 'peer' after the peer's `</stream:stream>`, 'lost' when the socket went
   * away under us without one (XEP-0198 hibernates resumable c2s sessions only then), 'local'
   * when we closed it. Undefined while open.
   */
  protected endedBy: 'peer' | 'lost' | 'local' | undefined;
  /** The connection went away without the peer's `</stream:stream>` (a crash, a dropped tunnel). */
  get lost(): boolean {
    return this.endedBy === 'lost';
  }
  /** When input last arrived (ms since the epoch): idle timeouts. */
  lastInput = Date.now();
  /** Elements read ahead of the handler; replaced by an empty array once drained (a used one keeps its capacity). */
  private inbox: Element[] = [];
  /** Bytes of each element in `inbox`, same order. */
  private inboxSizes: number[] = [];
  private inboxBytes = 0;
  private readonly inboxLimit: number;
  private draining = false;
  /** An element taken from the inbox is still being handled. */
  private handling = false;
  /** Handlers of pipelined elements not settled yet (each settles after every earlier one); undefined when none. */
  private pipelined: Set<Promise<void>> | undefined;
  /** Bytes of the elements in `pipelined`. */
  private pipelinedBytes = 0;
  /** Settles once every element started so far has settled. */
  private lastSettled: Promise<void> = SETTLED;
  /** The turn of the element whose handler is being called (synchronously) right now. */
  private activeTurn: Turn | undefined;
  private pausedForInput = false;
  private pausedForOutput = false;
  private pausedForRate = false;
  private rateTimer: NodeJS.Timeout | undefined;
  private bucket: TokenBucket | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private out: string[] = [];
  /** Characters in `out`. */
  private outLength = 0;
  /** Output allowed past OUTPUT_LIMIT until the socket drains (replayed stanzas, see allowOutput()). */
  private outputAllowance = 0;
  private flushScheduled = false;
  /** Where stanzas in and out are counted (the operator's metrics), if anywhere. */
  private tally: StreamTally | undefined;
  private tallyLink: StreamLink = 'c2s';

  /** `io` is a TCP socket or another transport (WebSocket, BOSH). */
  constructor(io: Socket | Transport, private readonly baseLog: Logger, stanzaSizeLimit: number, private readonly logKey: string) {
    this.transport = io instanceof Socket ? new TcpTransport(io) : io;
    this.secure = this.transport.secure;
    this.inboxLimit = INBOX_STANZAS * stanzaSizeLimit;
    this.parser = new StreamParser(
      new XmlStream.ParserEvents(this),
      // One element per 64 bytes of the size limit: 4096 for Prosody's 256 KiB.
      { maxStanzaBytes: stanzaSizeLimit, maxElements: Math.max(64, Math.floor(stanzaSizeLimit / 64)) },
    );
    this.transport.attach(new XmlStream.SinkEvents(this));
  }

  // What the parser and the transport call. Prototype methods on one small object each, not a
  // closure per event: a stream holds them for its whole life, so closures cost every idle
  // session ~0.9 KB of heap.

  /** The parser's events for one stream. */
  private static readonly ParserEvents = class implements ParserHandlers {
    constructor(private readonly s: XmlStream) {}
    streamStart(name: string, attrs: Record<string, string>): void {
      this.s.onStreamStart(name, attrs);
    }
    stanza(el: Element, bytes: number): void {
      this.s.enqueue(el, bytes);
    }
    streamEnd(): void {
      this.s.enqueue(END, 0);
    }
    error(condition: XmlErrorCondition, text: string): void {
      this.s.close(new StreamError(condition, text));
    }
  };

  /** What the transport calls: bytes for the parser, or (framed transports) whole elements. */
  private static readonly SinkEvents = class implements TransportSink {
    constructor(private readonly s: XmlStream) {}
    bytes(chunk: Buffer): void {
      this.s.input(chunk.length);
      this.s.parser.write(chunk);
    }
    open(attrs: Record<string, string>): void {
      this.s.input(0);
      if (!this.s.isClosed) this.s.onStreamStart('stream:stream', attrs);
    }
    element(el: Element, bytes: number): void {
      this.s.input(bytes);
      if (!this.s.isClosed) this.s.enqueue(el, bytes);
    }
    end(): void {
      if (!this.s.isClosed) this.s.enqueue(END, 0);
    }
    fail(error: StreamError): void {
      this.s.close(error);
    }
    drain(): void {
      const s = this.s;
      s.pausedForOutput = false;
      s.outputAllowance = 0;
      s.maybeResume();
    }
    error(err: Error): void {
      if (this.s.logs('debug')) this.s.log.debug({ err: err.message }, 'socket error');
    }
    closed(): void {
      this.s.endedBy ??= 'lost';
      this.s.finish('closed');
    }
  };

  /**
   * Whether the peer has authenticated: until then at most one element is read ahead of the
   * handler. Streams we opened ourselves (s2s-out) are trusted from the start.
   */
  protected get inputTrusted(): boolean {
    return true;
  }

  /** Read from this peer at most `limit` bytes per second, with its burst (the `limits` option). */
  limitRate(limit: RateLimit | undefined): void {
    this.bucket = limit ? new TokenBucket(limit) : undefined;
  }

  /** Count this stream's stanzas in and out into `tally`, as `link` (main wires it). */
  countInto(tally: StreamTally | undefined, link: StreamLink): void {
    this.tally = tally;
    this.tallyLink = link;
  }

  /** Close the stream (without an error) once no input has arrived for `seconds`. */
  protected closeWhenIdle(seconds: number): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const ms = seconds * 1000;
    const check = (): void => {
      const left = this.lastInput + ms - Date.now();
      if (left > 0) {
        this.idleTimer = setTimeout(check, left);
        this.idleTimer.unref();
        return;
      }
      this.idleTimer = undefined;
      if (this.isClosed) return;
      this.log.info({ seconds }, 'closing idle stream');
      this.close();
    };
    this.idleTimer = setTimeout(check, ms);
    this.idleTimer.unref();
  }

  /** The peer's stream header (after every restart). */
  protected abstract onStreamStart(name: string, attrs: Record<string, string>): void;
  /**
   * One element from the peer, in order; may be async (the next waits for it, unless the
   * element was pipelinable and its handler released its turn).
   */
  protected abstract handle(el: Element): void | Promise<void>;

  /**
   * Whether the next element may start while earlier pipelined ones still run, and gets a turn
   * its handler may release (src/core/turn.ts). No element is pipelinable here; c2s overrides.
   */
  protected pipelinable(_el: Element): boolean {
    return false;
  }

  /** The turn of the element being handed to the handler right now (only during that call). */
  get turn(): Turn | undefined {
    return this.activeTurn;
  }

  /** Resolves once every element started has settled; undefined when none is in flight. */
  inFlight(): Promise<void> | undefined {
    return this.pipelined === undefined ? undefined : this.lastSettled;
  }
  /** Our stream header, written before any stream error if it was not sent yet. */
  protected abstract header(): string;
  /** Called once when the stream is over, whatever ended it. */
  protected abstract onClosed(reason: string): void;

  /** The peer sent `<stream:error/>`: log it and close our side. */
  protected peerStreamError(condition: string, text: string | undefined): void {
    this.log.info({ condition, text }, 'the peer closed its stream with an error');
    this.close();
  }

  /**
   * This stream's logger: a child of the server's naming the stream, made at each use and not
   * kept, so an idle session holds none (most streams log a line or two in their life; a kept
   * child logger is ~0.2 KB per session).
   */
  get log(): Logger {
    return this.baseLog.child({ [this.logKey]: this.id });
  }

  /** Whether a line at `level` would be written (without making the stream's child logger). */
  logs(level: Level): boolean {
    return this.baseLog.isLevelEnabled(level);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Input arrived: note the time and take `bytes` from the rate bucket. */
  private input(bytes: number): void {
    this.lastInput = Date.now();
    const wait = this.bucket?.take(bytes) ?? 0;
    if (wait > 0 && !this.pausedForRate) {
      // Over the rate: this input is handled, then nothing more is read until the bucket is even.
      this.pausedForRate = true;
      this.transport.pause();
      this.rateTimer = setTimeout(() => {
        this.rateTimer = undefined;
        this.pausedForRate = false;
        this.maybeResume();
      }, wait);
    }
  }

  // ---- output ----

  /** Queue a stanza; output is written once per tick so bursts become one TLS record. */
  send(stanza: Element | string): void {
    if (this.isClosed) return;
    const text = typeof stanza === 'string' ? stanza : stanza.toString();
    if (this.tally) {
      const kind = stanzaKind(stanza);
      if (kind) this.tally.stanza('out', this.tallyLink, kind);
    }
    this.out.push(text);
    this.outLength += text.length;
    if (this.outLength + this.transport.pending > OUTPUT_LIMIT + this.outputAllowance) {
      this.out = [];
      this.outLength = 0;
      this.outputOverflow();
      return;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(XmlStream.flushOf, this);
    }
  }

  /** Write this tick's batch (setImmediate calls it through flushOf: no closure per stream). */
  private flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0 || this.transport.destroyed) return;
    const pieces = this.out;
    this.out = [];
    this.outLength = 0;
    if (!this.transport.write(pieces)) {
      // The peer is not reading: stop reading its input until it catches up.
      this.pausedForOutput = true;
      this.transport.pause();
    }
  }

  private static flushOf(this: void, s: XmlStream): void {
    s.flush();
  }

  /** Write now, bypassing the per-tick batching (needed right before a TLS upgrade or close). */
  protected writeNow(...pieces: string[]): void {
    const all = this.out.length ? [...this.out, ...pieces] : pieces;
    this.out = [];
    this.outLength = 0;
    if (!this.transport.destroyed && all.length) this.transport.write(all);
  }

  /**
   * The peer does not read what is sent to it (OUTPUT_LIMIT passed); what was not yet handed to
   * the socket is already dropped. The stream ends with `resource-constraint`.
   */
  protected outputOverflow(): void {
    this.log.info({ unsent: this.transport.pending }, 'the peer does not read its stream; closing it');
    this.close(new StreamError('resource-constraint', 'you are not reading what is sent to you'));
  }

  /** Let `chars` more of output past OUTPUT_LIMIT until the socket next drains. */
  protected allowOutput(chars: number): void {
    this.outputAllowance += chars;
  }

  /** Drop the connection as if the network had lost it (no stream error, no `</stream:stream>`). */
  protected dropSocket(): void {
    this.endedBy ??= 'lost';
    this.transport.destroy();
  }

  /** Write our header once per stream (and restart). */
  protected sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.send(this.header());
  }

  // ---- input, one element at a time ----

  private enqueue(el: Element, bytes: number): void {
    this.inbox.push(el);
    this.inboxSizes.push(bytes);
    this.inboxBytes += bytes;
    if (!this.pausedForInput && (this.inputTrusted ? this.inboxBytes >= this.inboxLimit : true)) {
      // Stop at this stanza's end; a handler that finishes at once lifts the hold before it bites.
      this.pausedForInput = true;
      this.parser.hold();
      this.transport.pause();
    }
    if (!this.draining) void this.drain();
  }

  /** Lift the input hold once the inbox has room again (before auth: once it is empty and idle). */
  private inputRoom(): void {
    if (!this.pausedForInput) return;
    const room = this.inputTrusted ? this.inboxBytes <= this.inboxLimit / 2 : this.inbox.length === 0 && !this.handling;
    if (!room) return;
    this.pausedForInput = false;
    this.parser.resume();
    this.maybeResume();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.inbox.length && !this.isClosed) {
        const el = this.inbox[0] as Element;
        const bytes = this.inboxSizes[0] as number;
        const pipelinable = el !== END && this.pipelinable(el);
        const pipelined = this.pipelined;
        if (pipelined !== undefined) {
          // Anything but a pipelinable message (nonzas such as XEP-0198 <r/>, iq, presence, the
          // end of the stream) starts once every earlier element has settled; a message waits
          // while the pipeline is full.
          if (!pipelinable) {
            await this.lastSettled;
            continue;
          }
          if (pipelined.size >= PIPELINE_MAX || this.pipelinedBytes + bytes > this.inboxLimit) {
            await Promise.race(pipelined);
            continue;
          }
        }
        this.inbox.shift();
        this.inboxSizes.shift();
        this.inboxBytes -= bytes;
        if (el === END) {
          this.endedBy ??= 'peer';
          this.close();
          break;
        }
        // A stream error ends the stream and is never answered with one (RFC 6120 §4.9.1.1).
        if (el.local === 'error' && el.name.endsWith(':error')) {
          this.peerStreamError(el.elements()[0]?.local ?? 'undefined-condition', el.getChildText('text'));
          break;
        }
        if (this.tally) {
          const kind = stanzaKind(el);
          if (kind) this.tally.stanza('in', this.tallyLink, kind);
        }
        this.handling = true;
        if (pipelinable) await this.handlePipelined(el, bytes);
        else {
          try {
            const r = this.handle(el);
            if (r) await r;
          } catch (err) {
            this.handlerFailed(err);
          }
        }
        this.handling = false;
        this.inputRoom();
      }
    } finally {
      this.draining = false;
      this.handling = false;
      if (this.inbox.length === 0) this.emptyInbox();
      this.inputRoom();
    }
  }

  /** Fresh empty arrays: a drained one keeps its backing store (~150 bytes each) for the stream's life. */
  private emptyInbox(): void {
    this.inbox = [];
    this.inboxSizes = [];
  }

  /**
   * Handle an element with a turn; returns once its handler released the turn or settled. A
   * failure closes the stream once every earlier element has settled, as it would have before.
   */
  private handlePipelined(el: Element, bytes: number): Promise<void> {
    const before = this.lastSettled;
    const turn = new Turn(before, this.pipelined === undefined);
    let r: void | Promise<void>;
    this.activeTurn = turn;
    try {
      r = this.handle(el);
    } catch (err) {
      r = Promise.reject(err);
    } finally {
      this.activeTurn = undefined;
    }
    if (!r) return Promise.resolve(); // done already, with nothing to wait for
    const settled = r.then(
      () => undefined,
      (err: unknown) => before.then(() => this.handlerFailed(err)),
    );
    const all = settled.then(() => before);
    this.lastSettled = all;
    (this.pipelined ??= new Set()).add(all);
    this.pipelinedBytes += bytes;
    void all.then(() => {
      const set = this.pipelined as Set<Promise<void>>;
      set.delete(all);
      this.pipelinedBytes -= bytes;
      if (set.size > 0) return;
      // Nothing in flight: an idle stream keeps neither the set nor the last promise.
      this.pipelined = undefined;
      if (this.lastSettled === all) this.lastSettled = SETTLED;
    });
    return Promise.race([turn.released, settled]);
  }

  /** A handler failed: a stream error closes the stream with it, anything else is ours. */
  private handlerFailed(err: unknown): void {
    if (err instanceof StreamError) this.close(err);
    else {
      this.log.error({ err }, 'internal error while handling a stanza');
      this.close(new StreamError('internal-server-error'));
    }
  }

  private maybeResume(): void {
    if (!this.pausedForInput && !this.pausedForOutput && !this.pausedForRate && !this.isClosed) this.transport.resume();
  }

  // ---- TLS ----

  /** Replace the socket with a TLS socket over it (server or client side); the parser restarts. TCP only. */
  protected upgradeTls(opts: TlsUpgrade, onSecure: () => void): void {
    if (!(this.transport instanceof TcpTransport)) throw new Error('TLS runs over TCP only');
    this.transport.startTls(opts, () => {
      this.secure = true;
      this.headerSent = false;
      onSecure();
    });
    this.parser.reset();
  }

  /**
   * Why the peer's certificate does not prove `domain` (CA chain and name, RFC 6125), or
   * undefined when it does. Used for s2s_secure_auth, for the peers the route owner says a certificate can prove.
   */
  protected certificateProblem(domain: string): string | undefined {
    return this.transport instanceof TcpTransport ? this.transport.certificateProblem(domain) : 'the stream is not over TLS';
  }

  /** Expect a new stream header from the peer (after SASL or TLS). */
  protected restart(): void {
    this.headerSent = false;
    this.parser.reset();
    this.transport.restart();
  }

  // ---- closing ----

  /** End the stream: stream error (if any), `</stream:stream>`, then the socket. */
  close(error?: StreamError): void {
    if (this.isClosed) return;
    this.endedBy ??= 'local';
    if (error) {
      if (!this.headerSent) this.sendHeader();
      if (this.logs('debug')) this.log.debug({ condition: error.condition, text: error.text }, 'stream error');
    }
    const tail = error ? [error.toElement().toString(), STREAM_END] : [STREAM_END];
    if (this.headerSent) this.writeNow(...tail);
    else this.writeNow();
    this.finish(error?.condition ?? 'closed');
    this.transport.end();
    setTimeout(() => this.transport.destroy(), CLOSE_GRACE_MS).unref();
  }

  private finish(reason: string): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.emptyInbox();
    this.inboxBytes = 0;
    this.out = [];
    this.outLength = 0;
    if (this.rateTimer) clearTimeout(this.rateTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.onClosed(reason);
  }
}
