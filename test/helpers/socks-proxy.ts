// A SOCKS5 proxy standing in for i2pd in tests (RFC 1928; i2pd's behaviour as docs/architecture.md describes it).
// It maps names like `a.b32.i2p` to local ports, records every name it is asked for, and can be
// told — per name or for all — to answer like i2pd, refuse, stall, or succeed and then hang up.
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { bypass } from './leak-guard.js';

/**
 * - 'ok': i2pd style — success (ATYP 1 0.0.0.0:0 unless replyAtyp says otherwise) at once, then
 *   bytes piped to the mapped local port (an unmapped .i2p name gets 0x04 after refuseDelayMs);
 * - 'refuse': 0x04 host unreachable after refuseDelayMs, then close;
 * - 'stall': accept the request and never answer;
 * - 'eof-after-success': success, then close at once (a b32 whose server is down).
 */
export type Behaviour = 'ok' | 'refuse' | 'stall' | 'eof-after-success';

export interface SocksProxyOptions {
  /** How long 'refuse' waits before its 0x04 (i2pd: about 5 s); default 0. */
  refuseDelayMs?: number;
}

/** The test proxy on 127.0.0.1 (port read back after listening on port 0). */
export class SocksProxy {
  /** Every host name (or IP literal) a client asked to CONNECT to, in order. */
  readonly requested: string[] = [];
  readonly host = '127.0.0.1';
  port = 0;
  refuseDelayMs: number;
  /** Address type of success replies: 1 (i2pd's 0.0.0.0:0), 3 (the requested name) or 4 (::). */
  replyAtyp: 1 | 3 | 4 = 1;
  /** Bytes sent in the same write as the success reply, as if the far side spoke at once. */
  afterReply: Buffer | undefined;
  private readonly server: Server;
  private readonly mapped = new Map<string, number>();
  private readonly perName = new Map<string, Behaviour>();
  private fallback: Behaviour = 'ok';
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(opts: SocksProxyOptions) {
    this.refuseDelayMs = opts.refuseDelayMs ?? 0;
    this.server = net.createServer((s) => this.accept(s));
  }

  /** Start a proxy listening on 127.0.0.1 port 0. */
  static async start(opts: SocksProxyOptions = {}): Promise<SocksProxy> {
    const p = new SocksProxy(opts);
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(0, '127.0.0.1', () => resolve());
    });
    p.port = (p.server.address() as AddressInfo).port;
    return p;
  }

  /** Route CONNECTs for `name` (case-insensitive) to 127.0.0.1:`port`. */
  map(name: string, port: number): this {
    this.mapped.set(name.toLowerCase(), port);
    return this;
  }

  /** Set the behaviour for one name, or for every name when `name` is omitted. */
  behave(behaviour: Behaviour, name?: string): this {
    if (name === undefined) this.fallback = behaviour;
    else this.perName.set(name.toLowerCase(), behaviour);
    return this;
  }

  /** Destroy every connection it relays (both sides), as a dropped I2P tunnel does; it keeps listening. */
  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Stop listening and end every connection and timer it opened. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(s: Socket): Socket {
    this.sockets.add(s);
    s.on('error', () => { /* a test closing one side abruptly is not a proxy failure */ });
    s.on('close', () => this.sockets.delete(s));
    return s;
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, ms);
    this.timers.add(t);
  }

  private accept(client: Socket): void {
    this.track(client);
    let buf = Buffer.alloc(0);
    let stage: 'greeting' | 'request' | 'done' = 'greeting';
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      if (stage === 'greeting') {
        if (buf.length < 2 || buf.length < 2 + (buf[1] as number)) return;
        const methods = [...buf.subarray(2, 2 + (buf[1] as number))];
        buf = buf.subarray(2 + (buf[1] as number));
        if (!methods.includes(0x00)) { client.end(Buffer.from([0x05, 0xff])); stage = 'done'; return; }
        client.write(Buffer.from([0x05, 0x00]));
        stage = 'request';
      }
      if (stage !== 'request' || buf.length < 5) return;
      const atyp = buf[3];
      const addrLen = atyp === 0x01 ? 4 : atyp === 0x04 ? 16 : atyp === 0x03 ? 1 + (buf[4] as number) : -1;
      if (addrLen < 0) { this.fail(client, 0x08); stage = 'done'; return; }
      if (buf.length < 4 + addrLen + 2) return;
      stage = 'done';
      client.removeListener('data', onData);
      client.pause();
      const rest = buf.subarray(4 + addrLen + 2);
      if (rest.length > 0) client.unshift(rest);
      const name = atyp === 0x03 ? buf.subarray(5, 5 + (buf[4] as number)).toString('utf8')
        : atyp === 0x01 ? [...buf.subarray(4, 8)].join('.') : 'ipv6:' + buf.subarray(4, 20).toString('hex');
      this.requested.push(name);
      if (buf[1] !== 0x01) return this.fail(client, 0x07);
      if (atyp !== 0x03) return this.fail(client, 0x08); // i2pd: IP literals are not destinations
      this.answer(client, name.toLowerCase(), buf.readUInt16BE(4 + addrLen));
    };
    client.on('data', onData);
  }

  private answer(client: Socket, name: string, port: number): void {
    const target = this.mapped.get(name);
    if (target === undefined && !name.endsWith('.i2p')) return this.fail(client, 0x08);
    const behaviour = this.perName.get(name) ?? this.fallback;
    if (behaviour === 'stall') return;
    if (behaviour === 'refuse' || (behaviour === 'ok' && target === undefined)) {
      return this.later(this.refuseDelayMs, () => this.fail(client, 0x04));
    }
    client.write(this.success(name, port));
    if (behaviour === 'eof-after-success' || target === undefined) { client.end(); return; }
    // Like i2pd, success went out before the far side accepted; if it is not there, hang up.
    const upstream = this.track(bypass(() => net.connect({ host: '127.0.0.1', port: target })));
    upstream.once('connect', () => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.once('error', () => client.end());
    client.once('close', () => upstream.destroy());
  }

  private success(name: string, port: number): Buffer {
    const addr = this.replyAtyp === 0x01 ? Buffer.from([0x01, 0, 0, 0, 0])
      : this.replyAtyp === 0x04 ? Buffer.concat([Buffer.from([0x04]), Buffer.alloc(16)])
        : Buffer.concat([Buffer.from([0x03, Buffer.byteLength(name)]), Buffer.from(name)]);
    const portBytes = Buffer.alloc(2);
    // i2pd answers port 0; the other shapes echo the port so tests see it parsed.
    portBytes.writeUInt16BE(this.replyAtyp === 0x01 ? 0 : port);
    return Buffer.concat([Buffer.from([0x05, 0x00, 0x00]), addr, portBytes, this.afterReply ?? Buffer.alloc(0)]);
  }

  /** A failure reply in i2pd's shape (ATYP 1 0.0.0.0:0), then close. */
  private fail(client: Socket, rep: number): void {
    client.end(Buffer.from([0x05, rep, 0x00, 0x01, 0, 0, 0, 0, 0, 0]));
  }
}

/**
 * Config lines for a Clove server that reaches other servers only through the test proxy on
 * `proxyPort` (darknet_only, the federation tests' modules), followed by any `extra` lines.
 */
export function darknetConfig(proxyPort: number, ...extra: string[]): string {
  return [
    'darknet_only = true',
    'darknet_socks5_host = "127.0.0.1"',
    `darknet_socks5_port = ${proxyPort}`,
    'modules_enabled = { "roster"; "disco"; "ping"; "vcard"; "darknet" }',
    ...extra,
  ].join('\n');
}
