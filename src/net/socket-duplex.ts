// A plain Duplex view of a TCP socket, for TLS to run over.
//
// Why: when a TLSSocket wraps a net.Socket directly, Node's TLS layer reads into 64 KiB buffers
// that each connection then keeps for its whole life (measured: ~50 KiB RSS per idle TLS
// connection, more than Prosody's whole session). Through a JS Duplex, TLS receives chunks of
// their real size and holds almost nothing while idle (~31 KiB per idle connection). The extra
// hop costs one function call per chunk, which the message benchmark does not notice.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export class SocketDuplex extends Duplex {
  constructor(private readonly socket: Socket) {
    super({ allowHalfOpen: true });
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.socket.write(chunk)) cb();
    else this.socket.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
}
