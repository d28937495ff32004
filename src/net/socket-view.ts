// A TCP socket as TLS sees it when it must not take the socket's native handle.
//
// Why: when a TLSSocket wraps a net.Socket directly, Node's TLS layer reads into 64 KiB buffers
// that each connection then keeps for its whole life (measured: ~39 KiB RSS per idle Clove
// session against ~27). Given anything that is not a net.Socket, Node runs TLS over it through
// its JSStreamSocket, which hands TLS chunks of their real size, so an idle connection holds
// almost nothing.
//
// This view is the smallest such object: it forwards the calls JSStreamSocket makes (pause,
// resume, on/once/removeListener for 'data', 'end', 'error' and 'close', cork/uncork, write with
// a callback, end, destroy) straight to the socket. A full stream.Duplex in between (as Clove had
// before) cost a second readable and writable state per connection and two stream hops per chunk
// each way: measured, ~15% of the CPU of a SCRAM login.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

type Listener = Parameters<Socket['on']>[1];

export class SocketView {
  /** JSStreamSocket refuses object-mode streams; a socket carries bytes. */
  readonly readableObjectMode = false;

  constructor(private readonly socket: Socket) {}

  /** The view as the Duplex TLSSocket and tls.connect accept (the subset they use is here). */
  asDuplex(): Duplex {
    return this as unknown as Duplex;
  }

  get readable(): boolean {
    return this.socket.readable;
  }

  get writable(): boolean {
    return this.socket.writable;
  }

  pause(): this {
    this.socket.pause();
    return this;
  }

  resume(): this {
    this.socket.resume();
    return this;
  }

  on(event: string, listener: Listener): this {
    this.socket.on(event, listener);
    return this;
  }

  once(event: string, listener: Listener): this {
    this.socket.once(event, listener);
    return this;
  }

  removeListener(event: string, listener: Listener): this {
    this.socket.removeListener(event, listener);
    return this;
  }

  off(event: string, listener: Listener): this {
    return this.removeListener(event, listener);
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
