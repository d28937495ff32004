// What an XML stream runs over. One session state machine (src/stream/c2s.ts on
// src/stream/xml-stream.ts) serves three transports that differ only in framing:
// - TCP (RFC 6120): a byte stream with `<stream:stream>` headers and STARTTLS
//   (src/stream/tcp-transport.ts);
// - WebSocket (RFC 7395): one complete element per frame, `<open/>`/`<close/>` instead of stream
//   headers, no STARTTLS (src/stream/web/websocket.ts);
// - BOSH (XEP-0124, XEP-0206): HTTP requests carrying `<body/>` wrappers of elements, the
//   session creation and restart requests instead of stream headers (src/stream/web/bosh-session.ts).
// A byte-stream transport hands bytes to the stream's parser; a framed one parses each frame
// itself and hands whole elements on. Output is written as pieces, each one complete top-level
// element (or the header, or STREAM_END), so a framed transport can frame each on its own.
import type { Element } from '../xml/element.js';
import type { StreamError } from '../core/errors.js';

/** The output piece that ends the stream (`</stream:stream>`, `<close/>`, a BOSH terminate). NUL cannot occur in XML. */
export const STREAM_END = '\u0000end';

/** What a transport tells the stream above it. */
export interface TransportSink {
  /** Raw input of a byte-stream transport, for the stream's parser. */
  bytes(chunk: Buffer): void;
  /** A framed transport's stream header (or restart), as the attributes of a `<stream:stream>` header. */
  open(attrs: Record<string, string>): void;
  /** One complete element from a framed transport, with its size in bytes as received. */
  element(el: Element, bytes: number): void;
  /** The peer ended its stream (`<close/>`, a BOSH terminate). */
  end(): void;
  /** The peer broke the transport's framing: end the stream with this error. */
  fail(error: StreamError): void;
  /** There is room for output again after write() returned false. */
  drain(): void;
  /** A socket error (the connection closes after it: closed() follows). */
  error(err: Error): void;
  /** The connection is gone (the stream did not end it, or it ended and the transport is done). */
  closed(): void;
}

/** The attributes of our stream header that every framing carries. */
export interface StreamHeader {
  /** Default namespace of the stream (jabber:client, jabber:server, …). */
  readonly xmlns: string;
  readonly id: string;
  readonly from?: string;
}

export interface Transport {
  readonly kind: 'tcp' | 'websocket' | 'bosh';
  /** The transport itself protects the stream (TLS now, or an HTTP tunnel the operator vouches for). */
  readonly secure: boolean;
  /** STARTTLS is possible on it (TCP only). */
  readonly canStartTls: boolean;
  /** Start delivering input and events to `sink`. */
  attach(sink: TransportSink): void;
  /** Stop reading input (flow control). */
  pause(): void;
  resume(): void;
  /** The stream restarts (after SASL): a framed transport expects a new stream header first. */
  restart(): void;
  /** Our stream header in this transport's framing (a piece for write()). */
  header(h: StreamHeader): string;
  /** Write output pieces; false when the peer is not reading (drain() follows). */
  write(pieces: readonly string[]): boolean;
  /** Output bytes written but not yet taken by the peer. */
  readonly pending: number;
  readonly destroyed: boolean;
  /** End gracefully once written output is out. */
  end(): void;
  /** Drop the connection now. */
  destroy(): void;
}

/**
 * A top-level piece of a c2s stream made self-contained for a framed transport: stanzas carry
 * `xmlns='jabber:client'` and `stream:` elements declare their prefix (RFC 7395 §3.3.3, XEP-0206
 * §5), since no `<stream:stream>` header declares them. Element serialisation escapes `>` in
 * attribute values, so the start tag ends at the first `>`.
 */
export function qualify(piece: string, xmlns: string, streamsNs: string): string {
  if (piece.charCodeAt(0) !== 60 /* < */) return piece;
  const m = /^<([^\s/>]+)/.exec(piece);
  if (!m) return piece;
  const name = m[1] as string;
  const end = piece.indexOf('>');
  const tag = piece.slice(0, end);
  let add = '';
  if (name.startsWith('stream:')) {
    if (!tag.includes(' xmlns:stream=')) add = ` xmlns:stream='${streamsNs}'`;
  } else if (!name.includes(':') && !/\sxmlns=/.test(tag)) {
    add = ` xmlns='${xmlns}'`;
  }
  return add ? `<${name}${add}${piece.slice(name.length + 1)}` : piece;
}
