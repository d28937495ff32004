// A SOCKS5 client for i2pd's SOCKS proxy. References: RFC 1928.
// Only what I2P needs: the "no authentication" method and CONNECT with ATYP=3, so the remote
// name reaches the proxy as text and is never resolved here (docs/architecture.md, house rule 7).
// i2pd answers success as ATYP=1 0.0.0.0:0 as soon as the destination's LeaseSet is found;
// other proxies may answer with ATYP 3 or 4, so every reply shape is parsed to its exact end —
// bytes the far side sends right behind the reply belong to the XMPP stream and are kept.
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { ConnectError, type ConnectOptions } from './connector.js';

/** Where to connect through which proxy. */
export interface Socks5Target {
  proxyHost: string;
  proxyPort: number;
  host: string;
  port: number;
}

/** RFC 1928 §6 reply codes, worded for an operator; the i2pd notes say what they mean there. */
export const SOCKS5_REPLIES: Readonly<Record<number, string>> = {
  0x01: 'general SOCKS server failure',
  0x02: 'connection not allowed by ruleset',
  0x03: 'network unreachable',
  0x04: 'host unreachable (i2pd: no LeaseSet found — the destination is unknown, offline or not yet published)',
  0x05: 'connection refused',
  0x06: 'TTL expired',
  0x07: 'command not supported',
  0x08: 'address type not supported (i2pd: only .i2p names can be reached; clearnet names and IP addresses are refused)',
};

/** The operator-facing text for a SOCKS5 reply code. */
export function describeReply(code: number): string {
  return SOCKS5_REPLIES[code] ?? `unassigned reply code 0x${code.toString(16).padStart(2, '0')}`;
}

/**
 * The proxy address as an IP literal. 'localhost' maps to 127.0.0.1 here because handing a name
 * to net.connect would call dns.lookup — a DNS query the darknet promise forbids.
 */
export function proxyAddress(host: string): string | undefined {
  const h = host.trim().toLowerCase();
  if (h === 'localhost') return '127.0.0.1';
  const bare = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
  return isIP(bare) ? bare : undefined;
}

/**
 * Keep a socket from crashing the process with an 'error' emitted before the caller, resuming
 * after the await, has attached its own handler; the caller's handler takes over from then on.
 */
export function handOver(socket: Socket): void {
  const bridge = (): void => { /* the caller also sees the failure as 'close' */ };
  socket.on('error', bridge);
  setImmediate(() => socket.off('error', bridge));
}

const seconds = (ms: number): string => (ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`);

/** The CONNECT request for `host:port` with ATYP=3 (RFC 1928 §4); throws for names a proxy must not get. */
export function connectRequest(host: string, port: number): Buffer {
  // An IP literal would make the proxy (or an outproxy behind it) connect to the clearnet;
  // i2pd refuses it anyway (0x08), so say so before anything leaves.
  if (isIP(host) || isIP(host.replace(/^\[|\]$/g, ''))) {
    throw new ConnectError('refused', `${host} is an IP address; the SOCKS5 proxy is only given host names (I2P destinations)`);
  }
  const name = Buffer.from(host, 'utf8');
  if (name.length === 0 || name.length > 255) throw new ConnectError('refused', `host name '${host}' cannot be sent to a SOCKS5 proxy (1-255 bytes)`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConnectError('refused', `port ${port} is not a valid TCP port`);
  const req = Buffer.alloc(7 + name.length);
  req.set([0x05, 0x01, 0x00, 0x03, name.length], 0);
  name.copy(req, 5);
  req.writeUInt16BE(port, 5 + name.length);
  return req;
}

/** The length of a complete CONNECT reply at the start of `buf`, or 0 if more bytes are needed. */
export function replyLength(buf: Buffer): number {
  if (buf.length < 5) return 0;
  const atyp = buf[3];
  // VER REP RSV ATYP + address + 2 port bytes
  const total = atyp === 0x01 ? 10 : atyp === 0x04 ? 22 : atyp === 0x03 ? 7 + (buf[4] as number) : -1;
  if (total < 0) throw new ConnectError('proxy-failed', `SOCKS5 proxy sent a reply with unknown address type 0x${(atyp as number).toString(16)}`);
  return buf.length >= total ? total : 0;
}

/** The bound address in a complete reply (for logs and tests): "0.0.0.0:0", "[::1]:80", "name:port". */
export function replyAddress(reply: Buffer): string {
  const atyp = reply[3];
  const port = reply.readUInt16BE(reply.length - 2);
  if (atyp === 0x01) return `${[...reply.subarray(4, 8)].join('.')}:${port}`;
  if (atyp === 0x04) {
    const groups: string[] = [];
    for (let i = 4; i < 20; i += 2) groups.push(reply.readUInt16BE(i).toString(16));
    return `[${groups.join(':')}]:${port}`;
  }
  return `${reply.subarray(5, 5 + (reply[4] as number)).toString('utf8')}:${port}`;
}

/**
 * Open a TCP connection to `target.host:target.port` through a SOCKS5 proxy. Resolves with the
 * socket once the proxy reports success; the socket is in its initial (not flowing) state, with any
 * bytes that followed the reply put back at the front. Attach 'error' and 'data' handlers on resumption.
 */
export function socks5Connect(target: Socks5Target, opts: ConnectOptions): Promise<Socket> {
  const { host, port } = target;
  const proxy = `${target.proxyHost}:${target.proxyPort}`;
  const where = `${host}:${port} via SOCKS5 proxy ${proxy}`;
  return new Promise<Socket>((resolve, reject) => {
    const ip = proxyAddress(target.proxyHost);
    if (ip === undefined) {
      reject(new ConnectError('proxy-unreachable', `SOCKS5 proxy host '${target.proxyHost}' must be an IP address or localhost (Clove never resolves names with DNS)`));
      return;
    }
    let request: Buffer;
    try {
      request = connectRequest(host, port);
    } catch (err) {
      reject(err);
      return;
    }
    if (opts.signal?.aborted) {
      reject(new ConnectError('aborted', `connection to ${where} was cancelled`));
      return;
    }

    let phase: 'tcp' | 'method' | 'reply' = 'tcp';
    let buf: Buffer = Buffer.alloc(0);
    let settled = false;
    // Guard: the address is an IP literal, so Node skips lookup; should that ever change, fail
    // loudly rather than ask DNS.
    const socket = tcpConnect({
      host: ip,
      port: target.proxyPort,
      lookup: (name, _o, cb) => cb(new Error(`refusing to resolve ${name} with DNS`), '', 4),
    });

    const finish = (err?: ConnectError, leftover?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.removeListener('connect', onConnect);
      socket.removeListener('readable', onReadable);
      socket.removeListener('error', onError);
      socket.removeListener('end', onEnd);
      if (err) {
        socket.on('error', () => { /* late errors of a socket we already gave up on */ });
        socket.destroy();
        reject(err);
        return;
      }
      // With the 'readable' listener gone and no 'data' listener, the stream returns to its
      // initial mode: the caller's first 'data' listener or pipe() starts the flow as usual.
      if (leftover && leftover.length > 0) socket.unshift(leftover);
      handOver(socket);
      resolve(socket);
    };

    const timer = setTimeout(() => {
      const what = phase === 'tcp' ? `could not connect to the SOCKS5 proxy ${proxy}` : `the SOCKS5 proxy ${proxy} did not reach ${host}:${port}`;
      finish(new ConnectError('timeout', `${what} within ${seconds(opts.timeoutMs)}`));
    }, opts.timeoutMs);
    const onAbort = (): void => finish(new ConnectError('aborted', `connection to ${where} was cancelled`));
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const onConnect = (): void => {
      phase = 'method';
      socket.write(Buffer.from([0x05, 0x01, 0x00])); // VER, NMETHODS, "no authentication"
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      if (phase === 'tcp') finish(new ConnectError('proxy-unreachable', `cannot connect to the SOCKS5 proxy ${proxy}: ${err.code ?? err.message} (is i2pd running with its SOCKS proxy enabled?)`));
      else finish(new ConnectError('network', `connection to the SOCKS5 proxy ${proxy} failed while reaching ${host}:${port}: ${err.code ?? err.message}`));
    };
    const onEnd = (): void => finish(new ConnectError('proxy-failed', `the SOCKS5 proxy ${proxy} closed the connection before answering for ${host}:${port}`));

    // Reads until the reply is complete; returns the bytes behind it when done.
    const step = (): ConnectError | Buffer | undefined => {
      if (phase === 'method') {
        if (buf.length < 2) return undefined;
        if (buf[0] !== 0x05) return new ConnectError('proxy-failed', `${proxy} is not a SOCKS5 proxy (version byte 0x${(buf[0] as number).toString(16)})`);
        if (buf[1] !== 0x00) return new ConnectError('proxy-failed', `the SOCKS5 proxy ${proxy} requires authentication, which Clove does not support`);
        buf = buf.subarray(2);
        phase = 'reply';
        socket.write(request);
      }
      if (buf.length < 2) return undefined;
      if (buf[0] !== 0x05) return new ConnectError('proxy-failed', `the SOCKS5 proxy ${proxy} sent a malformed reply (version byte 0x${(buf[0] as number).toString(16)})`);
      const rep = buf[1] as number;
      // A failure needs no more bytes: some proxies close right after VER REP.
      if (rep !== 0x00) return new ConnectError('proxy-failed', `the SOCKS5 proxy ${proxy} could not reach ${host}:${port}: ${describeReply(rep)} (0x${rep.toString(16).padStart(2, '0')})`);
      const len = replyLength(buf);
      return len === 0 ? undefined : buf.subarray(len);
    };

    const onReadable = (): void => {
      let chunk: Buffer | null;
      // read() drains what is buffered; stop as soon as the reply is complete so that bytes
      // arriving later stay queued in the socket, in order, behind the leftover we unshift.
      while (!settled && (chunk = socket.read() as Buffer | null) !== null) {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        let out: ConnectError | Buffer | undefined;
        try {
          out = step();
        } catch (err) {
          out = err instanceof ConnectError ? err : new ConnectError('proxy-failed', String(err));
        }
        if (out instanceof ConnectError) finish(out);
        else if (out !== undefined) finish(undefined, out);
      }
    };

    socket.once('connect', onConnect);
    socket.on('readable', onReadable);
    socket.on('error', onError);
    socket.on('end', onEnd);
  });
}
