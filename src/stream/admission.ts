// Global caps on incoming connections (clients, and servers on s2s): how many may be open, and
// how many may be still unauthenticated, at once. Behind i2pd every peer arrives from loopback,
// so there is no address to count per; these caps are what keeps a flood of connections from
// using up memory and file descriptors. A connection over a cap gets our stream header, the stream error
// `resource-constraint` and the end of the stream, without ever being parsed.
// References: RFC 6120 §4.9.1.1 (an error before the peer's header), §4.9.3.17.
import { randomId } from '../random-id.js';
import type { Socket } from 'node:net';
import { NS } from '../xml/ns.js';
import { StreamError } from '../core/errors.js';

/** Milliseconds a refused connection may take to read its stream error before it is dropped. */
const REFUSED_GRACE_MS = 2000;
/** Milliseconds between two log lines about refused connections. */
const REFUSAL_LOG_MS = 60_000;

export interface AdmissionCaps {
  /** c2s_max_connections / s2s_max_connections */
  maxConnections: number;
  /** c2s_max_unauthenticated / s2s_max_unauthenticated */
  maxUnauthenticated: number;
}

/** Counts connections against the caps; caps are read for each new connection (reload applies). */
export class ConnectionAdmission<C extends object> {
  private readonly open = new Set<C>();
  private readonly unauthenticated = new Set<C>();
  private refusedSinceLog = 0;
  private lastLog = 0;

  /** `kind` names the connections in refusals: 'client', 'server' or 'component'. */
  constructor(private readonly kind: 'client' | 'server' | 'component', private readonly caps: () => AdmissionCaps) {}

  /** Why a new connection is refused now, or undefined when it may come in. */
  refusal(): string | undefined {
    const { maxConnections, maxUnauthenticated } = this.caps();
    if (this.open.size >= maxConnections) return `the server has its maximum of ${maxConnections} ${this.kind} connections; try again later`;
    if (this.unauthenticated.size >= maxUnauthenticated) return `${maxUnauthenticated} connections are already logging in; try again later`;
    return undefined;
  }

  /** A new connection came in (unauthenticated). */
  added(conn: C): void {
    this.open.add(conn);
    this.unauthenticated.add(conn);
  }

  /** It authenticated: it no longer counts against the unauthenticated cap. */
  authenticated(conn: C): void {
    this.unauthenticated.delete(conn);
  }

  /** It closed. Bound to this admission: every stream keeps this one function as its close callback. */
  readonly removed = (conn: C): void => {
    this.open.delete(conn);
    this.unauthenticated.delete(conn);
  };

  /**
   * Count one refused connection; returns how many were refused since the last log line when
   * one is due (at most one a minute), undefined otherwise: a flood must not become a log flood.
   */
  countRefusal(): number | undefined {
    this.refusedSinceLog++;
    const now = Date.now();
    if (now - this.lastLog < REFUSAL_LOG_MS) return undefined;
    this.lastLog = now;
    const n = this.refusedSinceLog;
    this.refusedSinceLog = 0;
    return n;
  }

  get size(): number {
    return this.open.size;
  }

  /** Every open connection. */
  connections(): C[] {
    return [...this.open];
  }
}

/** Send a stream header (`xmlns` jabber:client or jabber:server) and `resource-constraint` with `text` on a fresh socket, then end it. */
export function refuseConnection(socket: Socket, text: string, xmlns: string = NS.CLIENT): void {
  const error = new StreamError('resource-constraint', text).toElement().toString();
  socket.on('error', () => {});
  socket.end(`<?xml version='1.0'?><stream:stream xmlns='${xmlns}' xmlns:stream='${NS.STREAMS}' id='${randomId(12)}' version='1.0' xml:lang='en'>${error}</stream:stream>`);
  setTimeout(() => socket.destroy(), REFUSED_GRACE_MS).unref();
}
