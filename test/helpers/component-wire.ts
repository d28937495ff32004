// A raw XEP-0114 connection for tests: open a jabber:component:accept stream, send a handshake
// computed here (node:crypto, independent of src/), send stanzas, and read what the server wrote
// until it ends the stream. Used for the cases slixmpp cannot be made to produce (a bad `from`,
// an unknown domain).
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export class ComponentWire {
  text = '';
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => { this.text += d.toString('utf8'); });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Connect and send a stream header to `domain`; resolves once the server's header arrived. */
  static async open(port: number, domain: string, timeoutMs = 5000): Promise<ComponentWire> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    const w = new ComponentWire(socket);
    w.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}'>`);
    await w.until(/<stream:stream[^>]*>/, timeoutMs);
    return w;
  }

  /** The stream id from the server's header. */
  get streamId(): string {
    return /<stream:stream[^>]*\sid=['"]([^'"]+)['"]/.exec(this.text)?.[1] ?? '';
  }

  send(xml: string): void {
    this.socket.write(xml);
  }

  /** Send the handshake for `secret` and wait for the answer (<handshake/> or the stream's end). */
  async handshake(secret: string, timeoutMs = 5000): Promise<boolean> {
    this.send(`<handshake>${createHash('sha1').update(this.streamId + secret).digest('hex')}</handshake>`);
    await this.until(/<handshake\s*\/>|<\/stream:stream>/, timeoutMs);
    return /<handshake\s*\/>/.test(this.text);
  }

  /** Resolves once what the server wrote matches `re` (or rejects after `timeoutMs`, or when the connection closes without it). */
  until(re: RegExp, timeoutMs = 5000): Promise<void> {
    if (re.test(this.text)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.socket.off('data', onData);
        this.socket.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const fail = (why: string): Error => new Error(`no ${re} from the server (${why}); got: ${this.text.slice(-500)}`);
      const onData = (): void => { if (re.test(this.text)) done(); };
      const onClose = (): void => done(re.test(this.text) ? undefined : fail('connection closed'));
      const timer = setTimeout(() => done(fail(`${timeoutMs} ms`)), timeoutMs);
      // After the class's own 'data' listener, so this.text already holds the chunk.
      this.socket.on('data', onData);
      this.socket.on('close', onClose);
    });
  }

  /** The stream error condition the server sent, if any. */
  get streamError(): string | undefined {
    return /<stream:error><([a-z-]+)/.exec(this.text)?.[1];
  }

  destroy(): void {
    this.socket.destroy();
  }
}
