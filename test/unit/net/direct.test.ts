// Direct (clearnet) connections: SRV order and fallback per RFC 6120 §3.2, with fake DNS.
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import type { SrvRecord } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directConnect, orderSrv, type DirectDeps } from '../../../src/net/direct.js';
import { ConnectError } from '../../../src/net/connector.js';

const srv = (name: string, port: number, priority = 10, weight = 0): SrvRecord => ({ name, port, priority, weight });

let server: Server;
let port: number;
beforeAll(async () => {
  server = net.createServer((c) => { c.on('error', () => {}); c.end('ok'); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => { await new Promise((r) => server.close(r)); });

/** Fake DNS and TCP that record what was asked; connect succeeds only for `up`. */
function fakes(records: SrvRecord[] | Error, hosts: Record<string, string[]>, up: string) {
  const asked: string[] = [];
  const deps: Partial<DirectDeps> = {
    resolveSrv: async (n) => { asked.push(`srv ${n}`); if (records instanceof Error) throw records; return records; },
    lookup: async (h) => {
      asked.push(`lookup ${h}`);
      const a = hosts[h];
      if (!a) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return a.map((address) => ({ address, family: net.isIP(address) }));
    },
    connect: async (address, p) => {
      asked.push(`connect ${address}:${p}`);
      if (`${address}:${p}` !== up) throw new Error('ECONNREFUSED');
      return { destroy() {} } as Socket;
    },
    random: () => 0.99,
  };
  return { asked, deps };
}

describe('orderSrv (RFC 2782)', () => {
  it('sorts by priority, then picks by weight', () => {
    const rs = [srv('c', 1, 20), srv('a', 1, 10, 1), srv('b', 1, 10, 9)];
    expect(orderSrv(rs, () => 0).map((r) => r.name)).toEqual(['a', 'b', 'c']);
    expect(orderSrv(rs, () => 0.99).map((r) => r.name)).toEqual(['b', 'a', 'c']);
  });
  it('keeps weight-0 records reachable', () => {
    expect(orderSrv([srv('w', 1, 0, 5), srv('z', 1, 0, 0)], () => 0).map((r) => r.name)).toEqual(['z', 'w']);
  });
});

describe('directConnect', () => {
  const opts = { timeoutMs: 5000 };

  it('tries SRV targets in order, and every address of each', async () => {
    const { asked, deps } = fakes([srv('x1.example', 5270, 5), srv('x2.example', 5271, 10)], { 'x1.example': ['192.0.2.1', '2001:db8::1'], 'x2.example': ['192.0.2.2'] }, '192.0.2.2:5271');
    await directConnect('example.org', opts, deps);
    expect(asked).toEqual(['srv _xmpp-server._tcp.example.org', 'lookup x1.example', 'connect 192.0.2.1:5270', 'connect 2001:db8::1:5270', 'lookup x2.example', 'connect 192.0.2.2:5271']);
  });

  it('falls back to A/AAAA on the domain at 5269 when there is no SRV record', async () => {
    const { asked, deps } = fakes(Object.assign(new Error('x'), { code: 'ENODATA' }), { 'example.org': ['192.0.2.9'] }, '192.0.2.9:5269');
    await directConnect('example.org', opts, deps);
    expect(asked).toEqual(['srv _xmpp-server._tcp.example.org', 'lookup example.org', 'connect 192.0.2.9:5269']);
  });

  it('does not fall back to the domain after SRV targets fail (RFC 6120 §3.2.1)', async () => {
    const { asked, deps } = fakes([srv('x1.example', 5270)], { 'x1.example': ['192.0.2.1'], 'example.org': ['192.0.2.9'] }, 'none');
    const err = (await directConnect('example.org', opts, deps).catch((e) => e)) as ConnectError;
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.code).toBe('network');
    expect(err.message).toBe('could not connect to example.org: 192.0.2.1:5270 (x1.example): ECONNREFUSED');
    expect(asked).not.toContain('lookup example.org');
  });

  it('stops when SRV says there is no service (target ".")', async () => {
    const { asked, deps } = fakes([srv('.', 0)], {}, 'none');
    const err = (await directConnect('example.org', opts, deps).catch((e) => e)) as ConnectError;
    expect(err.code).toBe('dns');
    expect(asked).toEqual(['srv _xmpp-server._tcp.example.org']);
  });

  it('reports an unknown domain as a DNS failure', async () => {
    const { deps } = fakes(new Error('ENOTFOUND'), {}, 'none');
    const err = (await directConnect('nowhere.example', opts, deps).catch((e) => e)) as ConnectError;
    expect(err.code).toBe('dns');
    expect(err.message).toBe('could not connect to nowhere.example: nowhere.example: ENOTFOUND');
  });

  it('asks no DNS for an IP-literal domain', async () => {
    const { asked, deps } = fakes([], {}, '192.0.2.7:5269');
    await directConnect('192.0.2.7', opts, deps);
    await directConnect('[2001:db8::7]', opts, { ...deps, connect: async (a, p) => { asked.push(`connect ${a}:${p}`); return {} as Socket; } });
    expect(asked).toEqual(['connect 192.0.2.7:5269', 'connect 2001:db8::7:5269']);
  });

  it('connects for real to the SRV target and port', async () => {
    const { deps } = fakes([srv('xmpp.example', port)], { 'xmpp.example': ['127.0.0.1'] }, 'none');
    delete deps.connect;
    const s = await directConnect('example.org', opts, deps);
    expect(s.remotePort).toBe(port);
    s.destroy();
  });
});
