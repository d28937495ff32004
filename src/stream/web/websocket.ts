// XMPP over WebSocket (RFC 7395): the c2s stream's transport when a client connects to
// /xmpp-websocket. Each text frame is one complete element; `<open/>` and `<close/>` in the
// framing namespace replace the stream header and `</stream:stream>`; there is no STARTTLS (the
// HTTP tunnel carries the stream). The WebSocket protocol itself is the `ws` library's.
// References: RFC 7395 §3 (framing, open, close, stream errors), RFC 6455 (close code 1009).
//
// Limits: `ws` refuses a frame longer than the stanza limit from its header, before reading its
// payload (maxPayload), and compression is off (no decompression bombs); such a frame gets the
// stream error `policy-violation` and `<close/>` before the WebSocket close frame (1009): see
// StanzaLimitedWebSocket. Output waits in `ws` (bufferedAmount) and counts against the stream's
// output limit like a TCP socket's unsent bytes.
import { WebSocket } from 'ws';
import { NS } from '../../xml/ns.js';
import { StreamError } from '../../core/errors.js';
import { STREAM_END, qualify, type StreamHeader, type Transport, type TransportSink } from '../transport.js';
import { WholeParser, isWholeError } from './whole-parser.js';

/** Unsent bytes past which write() reports that the client is not reading … */
const HIGH_WATER = 64 * 1024;
/** … and below which it has caught up again. */
const LOW_WATER = 16 * 1024;
/** The WebSocket subprotocol of RFC 7395 §3.1. */
export const XMPP_SUBPROTOCOL = 'xmpp';
/** Made-up stream root each frame is parsed in, so stanzas default to jabber:client. */
const ROOT_OPEN = `<stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAMS}'>`;
const ROOT_CLOSE = '</stream:stream>';
const CLOSE_FRAME = `<close xmlns='${NS.FRAMING}'/>`;
/** RFC 6455 close code for a message too big to process. */
const MESSAGE_TOO_BIG = 1009;

/**
 * A `ws` WebSocket that, when `ws` refuses a frame over maxPayload (it then closes with 1009),
 * first sends the stream error and `<close/>` the client's XMPP library can show.
 */
export class StanzaLimitedWebSocket extends WebSocket {
  /** Set by the transport: the frames to send before closing for an oversized message. */
  tooBig: string[] | undefined;

  override close(code?: number, data?: string | Buffer): void {
    const frames = this.tooBig;
    if (code === MESSAGE_TOO_BIG && frames && this.readyState === WebSocket.OPEN) {
      this.tooBig = undefined;
      for (const f of frames) this.send(f);
      return super.close(code, 'stanza too large');
    }
    super.close(code, data);
  }
}

export interface WebSocketTransportOptions {
  /** consider_websocket_secure: the HTTP tunnel protects the stream (see docs/web-clients.md). */
  secure: boolean;
  /** c2s_stanza_size_limit: also the largest frame `ws` accepts. */
  stanzaSizeLimit: number;
}

export class WebSocketTransport implements Transport {
  readonly kind = 'websocket' as const;
  readonly canStartTls = false;
  readonly secure: boolean;
  private sink: TransportSink | undefined;
  private readonly parser: WholeParser;
  /** `<open/>` came on the current (restarted) stream. */
  private opened = false;
  private waitingDrain = false;
  private gone = false;

  constructor(private readonly ws: WebSocket, opts: WebSocketTransportOptions) {
    this.secure = opts.secure;
    this.parser = new WholeParser({ maxStanzaBytes: opts.stanzaSizeLimit, maxElements: Math.max(64, Math.floor(opts.stanzaSizeLimit / 64)) });
    if (ws instanceof StanzaLimitedWebSocket) {
      const error = new StreamError('policy-violation', `a frame may be at most ${opts.stanzaSizeLimit} bytes`).toElement().toString();
      ws.tooBig = [qualify(error, NS.CLIENT, NS.STREAMS), CLOSE_FRAME];
    }
  }

  attach(sink: TransportSink): void {
    this.sink = sink;
    this.ws.on('message', (data, isBinary) => this.frame(data, isBinary));
    // `ws` closes the connection on a protocol error (a frame over maxPayload, bad UTF-8, …):
    // the stream ends as refused by us, never as a lost connection that XEP-0198 would keep.
    this.ws.on('error', (err: Error & { code?: string }) => {
      sink.error(err);
      const tooBig = err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
      sink.fail(new StreamError(tooBig ? 'policy-violation' : 'bad-format', tooBig ? 'the frame is larger than the stanza size limit' : err.message));
    });
    this.ws.on('close', () => {
      this.gone = true;
      sink.closed();
    });
  }

  private frame(data: WebSocket.RawData, isBinary: boolean): void {
    const sink = this.sink as TransportSink;
    if (isBinary) return sink.fail(new StreamError('bad-format', 'XMPP over WebSocket uses text frames (RFC 7395 §3.2)'));
    // The server's binaryType is the default 'nodebuffer': a Buffer, or Buffers of a fragmented message.
    const text = (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)).toString('utf8');
    if (text.trim() === '') return; // a whitespace keepalive
    const doc = this.parser.parse(ROOT_OPEN, text, ROOT_CLOSE);
    if (isWholeError(doc)) return sink.fail(new StreamError(doc.condition, doc.text));
    const only = doc.children.length === 1 ? doc.children[0] : undefined;
    if (!only) return sink.fail(new StreamError('bad-format', 'each WebSocket frame must hold exactly one element (RFC 7395 §3.3.3)'));
    const { el, bytes } = only;
    if (el.xmlns === NS.FRAMING && el.local === 'open') {
      if (this.opened) return sink.fail(new StreamError('bad-format', 'the stream is already open'));
      this.opened = true;
      const attrs: Record<string, string> = { xmlns: NS.CLIENT, 'xmlns:stream': NS.STREAMS };
      for (const k of ['to', 'from', 'version', 'xml:lang', 'id']) {
        const v = el.attrs[k];
        if (v !== undefined) attrs[k] = v;
      }
      return sink.open(attrs);
    }
    if (el.xmlns === NS.FRAMING && el.local === 'close') return sink.end();
    if (!this.opened) return sink.fail(new StreamError('bad-format', 'send <open/> first (RFC 7395 §3.3.1)'));
    sink.element(el, bytes);
  }

  pause(): void {
    if (!this.gone) this.ws.pause();
  }

  resume(): void {
    if (!this.gone) this.ws.resume();
  }

  restart(): void {
    this.opened = false;
  }

  header(h: StreamHeader): string {
    const from = h.from ? ` from='${h.from}'` : '';
    return `<open xmlns='${NS.FRAMING}' id='${h.id}'${from} version='1.0' xml:lang='en'/>`;
  }

  write(pieces: readonly string[]): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return true;
    for (const p of pieces) {
      const frame = p === STREAM_END ? CLOSE_FRAME : qualify(p, NS.CLIENT, NS.STREAMS);
      this.ws.send(frame, this.sent);
    }
    if (this.ws.bufferedAmount < HIGH_WATER) return true;
    this.waitingDrain = true;
    return false;
  }

  /** A frame went to the socket: tell the stream once the client has caught up. */
  private readonly sent = (): void => {
    if (this.waitingDrain && this.ws.bufferedAmount < LOW_WATER) {
      this.waitingDrain = false;
      this.sink?.drain();
    }
  };

  get pending(): number {
    return this.ws.bufferedAmount;
  }

  get destroyed(): boolean {
    return this.gone || this.ws.readyState === WebSocket.CLOSED;
  }

  end(): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.resume(); // input may be paused (flow control): the client's close frame must be read
    this.ws.close(1000);
  }

  destroy(): void {
    this.ws.terminate();
  }
}
