// The TCP socket as the stream TLS runs over, without a stream of its own in between: for the
// client side of TLS (outgoing s2s). The server side wraps the socket itself once the client's
// first bytes are in (src/stream/tcp-transport.ts).
//
// Why not the socket itself here: when a TLSSocket wraps a net.Socket before any TLS byte has
// arrived, Node's TLS layer makes its input buffer as large as the first read offers, 64 KiB,
// kept for the connection's whole life (~48 KiB RSS per idle connection). Given anything else,
// node:tls wraps it in its JSStreamSocket, which hands TLS chunks of their real size.
//
// Why not a Duplex (what this was): a Duplex over the socket is a fourth stream per connection,
// with its own readable and writable state, listeners and once-wrappers: ~1.3 KB of heap per
// idle session. JSStreamSocket only listens to its stream ('data', 'end', 'error', 'close'),
// pauses and resumes it, and writes, corks, ends and destroys it; every one of these is the
// socket's own, so this view forwards them to the socket and holds nothing but the socket.
// (Writes keep their callbacks: TLS waits for the socket, so output it does not take stays
// counted in the TLSSocket's writableLength, which the stream's output limit reads.)
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

type Listener = (...args: unknown[]) => void;

class SocketView {
  /** TLS keeps its side open after the peer's end; the XML stream closes it (as with a Duplex before). */
  readonly allowHalfOpen = true;
  readonly readableObjectMode = false;
  /** Nothing is buffered here (the TLSSocket would otherwise read it out first). */
  readonly readableLength = 0;

  constructor(private readonly socket: Socket) {}

  get readable(): boolean {
    return this.socket.readable;
  }

  get writable(): boolean {
    return this.socket.writable;
  }

  on(event: string, fn: Listener): this {
    this.socket.on(event, fn);
    return this;
  }

  /** 'end' and 'close' happen once on a socket: a plain listener saves the once-wrapper (~0.15 KB each). */
  once(event: string, fn: Listener): this {
    if (event === 'end' || event === 'close') this.socket.on(event, fn);
    else this.socket.once(event, fn);
    return this;
  }

  removeListener(event: string, fn: Listener): this {
    this.socket.removeListener(event, fn);
    return this;
  }

  off(event: string, fn: Listener): this {
    return this.removeListener(event, fn);
  }

  pause(): this {
    this.socket.pause();
    return this;
  }

  resume(): this {
    this.socket.resume();
    return this;
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean {
    return this.socket.write(chunk, cb);
  }

  end(cb?: () => void): this {
    this.socket.end(cb);
    return this;
  }

  destroy(err?: Error): this {
    this.socket.destroy(err);
    return this;
  }
}

/**
 * The stream to hand node:tls (TLSSocket, tls.connect's `socket`) for `socket`. Typed as the
 * Duplex node:tls asks for; it is the subset of one that node:tls's JSStreamSocket uses.
 */
export function socketView(socket: Socket): Duplex {
  return new SocketView(socket) as unknown as Duplex;
}
