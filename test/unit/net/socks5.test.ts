// The SOCKS5 client against the i2pd stand-in and a scripted raw proxy. References: RFC 1928.
// Every test runs under the leak guard: the only TCP connection allowed is to the proxy.
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectError } from '../../../src/net/connector.js';
import { connectRequest, describeReply, proxyAddress, replyAddress, replyLength, socks5Connect } from '../../../src/net/socks5.js';
import { SocksProxy } from '../../helpers/socks-proxy.js';
import { allow, useLeakGuard } from '../../helpers/leak-guard.js';

const B32 = 'abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst.b32.i2p';
let proxy: SocksProxy;
let echo: Server;
let echoPort: number;
const open: Socket[] = [];

/** A local TCP server that greets with "hi:" and echoes; stands in for a remote XMPP server. */
async function startEcho(): Promise<Server> {
  const s = net.createServer((c) => { c.on('error', () => {}); c.write('hi:'); c.pipe(c); });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return s;
}

/** Read from `s` until `n` bytes arrived (or EOF); attaching 'data' starts the flow. */
function readBytes(s: Socket, n: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (d: Buffer): void => { got += d.toString('latin1'); if (got.length >= n) done(); };
    const done = (): void => { s.removeListener('data', onData); s.removeListener('end', done); resolve(got); };
    s.on('data', onData);
    s.on('end', done);
  });
}

const target = (host: string, port = 5269) => ({ proxyHost: '127.0.0.1', proxyPort: proxy.port, host, port });
const via = async (host: string, timeoutMs = 2000, port = 5269): Promise<Socket> => {
  const s = await socks5Connect(target(host, port), { timeoutMs });
  s.on('error', () => {});
  open.push(s);
  return s;
};
async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

beforeAll(async () => {
  echo = await startEcho();
  echoPort = (echo.address() as AddressInfo).port;
});
afterAll(async () => { await new Promise((r) => echo.close(r)); });
beforeEach(async () => {
  proxy = await SocksProxy.start();
  proxy.map(B32, echoPort);
});
afterEach(async () => {
  for (const s of open.splice(0)) s.destroy();
  await proxy.close();
});
// Registered after the proxy starts, so the guard's allow-list can name the proxy's port.
useLeakGuard(() => [{ port: proxy.port }]);

describe('request encoding', () => {
  it('sends CONNECT with ATYP 3 and the name as text', () => {
    expect([...connectRequest('a.b32.i2p', 5269)]).toEqual([5, 1, 0, 3, 9, ...Buffer.from('a.b32.i2p'), 0x14, 0x95]);
  });
  it('refuses IP literals and impossible names before anything is sent', () => {
    for (const h of ['10.0.0.1', '::1', '[::1]']) expect(() => connectRequest(h, 5269)).toThrow(/IP address/);
    expect(() => connectRequest('x'.repeat(256), 5269)).toThrow(/1-255 bytes/);
    expect(() => connectRequest('a.i2p', 0)).toThrow(/port/);
  });
  it('maps localhost to 127.0.0.1 and rejects other names as proxy address', () => {
    expect(proxyAddress('localhost')).toBe('127.0.0.1');
    expect(proxyAddress('127.0.0.1')).toBe('127.0.0.1');
    expect(proxyAddress('[::1]')).toBe('::1');
    expect(proxyAddress('i2pd.lan')).toBeUndefined();
  });
  it('measures and prints each reply shape', () => {
    const v4 = Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    const name = Buffer.from([5, 0, 0, 3, 3, ...Buffer.from('a.b'), 0x14, 0x95]);
    const v6 = Buffer.concat([Buffer.from([5, 0, 0, 4]), Buffer.alloc(15), Buffer.from([1, 0, 80])]);
    expect([replyLength(v4), replyAddress(v4)]).toEqual([10, '0.0.0.0:0']);
    expect([replyLength(name), replyAddress(name)]).toEqual([10, 'a.b:5269']);
    expect([replyLength(v6), replyAddress(v6)]).toEqual([22, '[0:0:0:0:0:0:0:1]:80']);
    expect(replyLength(v6.subarray(0, 21))).toBe(0);
    expect(() => replyLength(Buffer.from([5, 0, 0, 9, 0]))).toThrow(/unknown address type 0x9/);
  });
});

describe('through the i2pd stand-in', () => {
  it('connects i2pd-style (ATYP 1 0.0.0.0:0) and carries bytes both ways', async () => {
    const s = await via(B32.toUpperCase());
    expect(await readBytes(s, 3)).toBe('hi:');
    s.write('ping');
    expect(await readBytes(s, 4)).toBe('ping');
    expect(proxy.requested).toEqual([B32.toUpperCase()]);
  });

  for (const atyp of [1, 3, 4] as const) {
    it(`keeps bytes that arrive in the same chunk as an ATYP ${atyp} reply`, async () => {
      proxy.replyAtyp = atyp;
      proxy.afterReply = Buffer.from("<stream:stream from='x'>");
      const s = await via(B32);
      expect(await readBytes(s, 24 + 3)).toBe("<stream:stream from='x'>hi:");
    });
  }

  it('treats success followed by EOF as a connection that ends (the peer is down)', async () => {
    proxy.behave('eof-after-success', B32);
    const s = await via(B32);
    expect(await readBytes(s, 1)).toBe('');
  });

  it('reports 0x04 host unreachable for an unreachable b32, after the delay', async () => {
    proxy.refuseDelayMs = 100;
    proxy.behave('refuse');
    const t0 = Date.now();
    const err = await failure(via(B32));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    expect(err.code).toBe('proxy-failed');
    expect(err.message).toContain(`could not reach ${B32}:5269: host unreachable`);
    expect(err.message).toContain('(0x04)');
  });

  it('reports 0x04 for an unknown .i2p name and 0x08 for a clearnet name', async () => {
    expect((await failure(via('unknown.b32.i2p'))).message).toMatch(/host unreachable .*\(0x04\)$/);
    const err = await failure(via('example.org'));
    expect(err.code).toBe('proxy-failed');
    expect(err.message).toMatch(/address type not supported .*\(0x08\)$/);
    expect(proxy.requested).toEqual(['unknown.b32.i2p', 'example.org']);
  });

  it('times out when the proxy stalls, and says at which step', async () => {
    proxy.behave('stall');
    const err = await failure(via(B32, 150));
    expect(err.code).toBe('timeout');
    expect(err.message).toBe(`the SOCKS5 proxy 127.0.0.1:${proxy.port} did not reach ${B32}:5269 within 150 ms`);
  });

  it('can be cancelled', async () => {
    proxy.behave('stall');
    const ac = new AbortController();
    const p = socks5Connect(target(B32), { timeoutMs: 5000, signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    expect((await failure(p)).code).toBe('aborted');
  });

  it('never sends an IP literal: refused before connecting', async () => {
    const err = await failure(via('192.0.2.1'));
    expect(err.code).toBe('refused');
    expect(proxy.requested).toEqual([]);
  });

  it('accepts "localhost" as the proxy address without asking DNS', async () => {
    const s = await socks5Connect({ ...target(B32), proxyHost: 'localhost' }, { timeoutMs: 2000 });
    s.on('error', () => {});
    open.push(s);
    expect(await readBytes(s, 3)).toBe('hi:');
  });

  it('refuses a proxy given by name (that would need DNS)', async () => {
    const err = await failure(socks5Connect({ ...target(B32), proxyHost: 'i2pd.internal' }, { timeoutMs: 2000 }));
    expect(err.code).toBe('proxy-unreachable');
    expect(err.message).toMatch(/must be an IP address or localhost/);
  });
});

describe('proxy faults', () => {
  it('says the proxy is unreachable when nothing listens', async () => {
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    allow({ port });
    const err = await failure(socks5Connect({ ...target(B32), proxyPort: port }, { timeoutMs: 2000 }));
    expect(err.code).toBe('proxy-unreachable');
    expect(err.message).toContain('ECONNREFUSED');
  });

  /** A proxy that answers the greeting with `method`, then the request with `reply`, each split into single bytes. */
  async function scripted(method: number[], reply: number[] | undefined): Promise<number> {
    const conns = new Set<Socket>();
    const s = net.createServer((c) => {
      conns.add(c);
      c.on('error', () => {});
      let step = 0;
      c.on('data', async () => {
        const bytes = step++ === 0 ? method : reply;
        if (!bytes) { c.end(); return; }
        for (const b of bytes) { c.write(Buffer.from([b])); await new Promise((r) => setTimeout(r, 1)); }
      });
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    cleanup.push(() => { for (const c of conns) c.destroy(); return new Promise((r) => s.close(r)); });
    allow({ port });
    return port;
  }
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => { for (const c of cleanup.splice(0)) await c(); });

  it('maps every RFC 1928 reply code to its text', async () => {
    for (const code of [1, 2, 3, 4, 5, 6, 7, 8, 0x42]) {
      const port = await scripted([5, 0], [5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
      const err = await failure(socks5Connect({ ...target(B32), proxyPort: port }, { timeoutMs: 2000 }));
      expect(err.code).toBe('proxy-failed');
      expect(err.message).toContain(describeReply(code));
    }
    expect(describeReply(0x42)).toBe('unassigned reply code 0x42');
  });

  it('parses replies that arrive one byte at a time', async () => {
    const port = await scripted([5, 0], [5, 0, 0, 3, 3, 0x61, 0x2e, 0x62, 0, 80, 0x58]);
    const s = await socks5Connect({ ...target(B32), proxyPort: port }, { timeoutMs: 2000 });
    s.on('error', () => {});
    open.push(s);
    expect(await readBytes(s, 1)).toBe('X');
  });

  it('rejects a proxy that wants authentication, or is not SOCKS5', async () => {
    let port = await scripted([5, 0xff], undefined);
    expect((await failure(socks5Connect({ ...target(B32), proxyPort: port }, { timeoutMs: 2000 }))).message).toMatch(/requires authentication/);
    port = await scripted([4, 0], undefined);
    expect((await failure(socks5Connect({ ...target(B32), proxyPort: port }, { timeoutMs: 2000 }))).message).toMatch(/is not a SOCKS5 proxy/);
  });

  it('rejects an unknown reply address type, and a proxy that hangs up before replying', async () => {
    let port = await scripted([5, 0], [5, 0, 0, 7, 0, 0, 0]);
    expect((await failure(socks5Connect({ ...target(B32), proxyPort: port }, { timeoutMs: 2000 }))).message).toMatch(/unknown address type 0x7/);
    port = await scripted([5, 0], undefined);
    const err = await failure(socks5Connect({ ...target(B32), proxyPort: port }, { timeoutMs: 2000 }));
    expect(err.code).toBe('proxy-failed');
    expect(err.message).toMatch(/closed the connection before answering/);
  });
});
