// The leak guard catches what the leak tests rely on it to catch, and lets the proxy through.
import dns, { lookup as namedLookup } from 'node:dns';
import net, { type AddressInfo, type Server } from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as guard from '../../helpers/leak-guard.js';

let server: Server;
let port: number;
let unused: number;

/** The error a socket ends with, or 'connected'. */
function outcome(s: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    s.once('connect', () => { s.destroy(); resolve('connected'); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

beforeAll(async () => {
  server = net.createServer((c) => c.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  const tmp = net.createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  unused = (tmp.address() as AddressInfo).port;
  await new Promise((r) => tmp.close(r));
});
afterAll(async () => { await new Promise((r) => server.close(r)); });
afterEach(() => { guard.stop(); });

describe('leak guard', () => {
  it('catches and blocks dns.lookup("example.org")', async () => {
    guard.start([{ port }]);
    const err = await new Promise<NodeJS.ErrnoException | null>((r) => dns.lookup('example.org', (e) => r(e)));
    expect(err?.code).toBe('ELEAKGUARD');
    expect(guard.violations).toEqual([{ kind: 'dns', api: 'dns.lookup', target: 'example.org' }]);
    expect(() => guard.assertNoLeaks()).toThrow(/1 forbidden call\(s\):\n {2}dns dns.lookup example.org/);
  });

  it('catches the other DNS entry points: named ESM import, resolve*, promises, both Resolvers', async () => {
    guard.start([]);
    await new Promise((r) => namedLookup('a.example', r));
    await new Promise((r) => dns.resolveSrv('_xmpp-server._tcp.b.example', r));
    await expect(dns.promises.resolveSrv('_xmpp-server._tcp.c.example')).rejects.toThrow(/leak-guard/);
    await expect(dns.promises.lookup('d.example')).rejects.toThrow(/leak-guard/);
    await new Promise((r) => new dns.Resolver().resolve4('e.example', r));
    await expect(new dns.promises.Resolver().resolveTxt('f.example')).rejects.toThrow(/leak-guard/);
    expect(guard.violations.map((v) => `${v.api} ${v.target}`)).toEqual([
      'dns.lookup a.example',
      'dns.resolveSrv _xmpp-server._tcp.b.example',
      'dns.promises.resolveSrv _xmpp-server._tcp.c.example',
      'dns.promises.lookup d.example',
      'dns.Resolver.resolve4 e.example',
      'dns.promises.Resolver.resolveTxt f.example',
    ]);
  });

  it('catches and blocks net.connect to an unlisted port, and lets the allowed proxy port through', async () => {
    guard.start([{ port }]);
    expect(await outcome(net.connect({ host: '127.0.0.1', port: unused }))).toBe('ELEAKGUARD');
    expect(await outcome(net.connect(port, '127.0.0.1'))).toBe('connected');
    expect(await outcome(net.createConnection({ host: '127.0.0.1', port }))).toBe('connected');
    expect(guard.violations).toEqual([{ kind: 'tcp', api: 'net.connect', target: `127.0.0.1:${unused}` }]);
  });

  it('treats "localhost" and other hosts as leaks even on an allowed port, and sees tls.connect', async () => {
    guard.start([{ port }]);
    expect(await outcome(net.connect({ host: 'localhost', port }))).toBe('ELEAKGUARD');
    expect(await outcome(new net.Socket().connect({ host: '192.0.2.1', port: 5269 }))).toBe('ELEAKGUARD');
    expect(await outcome(tls.connect({ host: '127.0.0.1', port: unused }))).toBe('ELEAKGUARD');
    expect(guard.violations.map((v) => `${v.api} ${v.target}`)).toEqual([
      `net.connect localhost:${port}`,
      'Socket.connect 192.0.2.1:5269',
      `Socket.connect 127.0.0.1:${unused}`,
    ]);
  });

  it('lets the test plumbing bypass it, and restores everything on stop()', async () => {
    const ownResolve4 = Object.hasOwn(dns.Resolver.prototype, 'resolve4');
    const before = { lookup: dns.lookup, named: namedLookup, srv: dns.promises.resolveSrv, connect: net.Socket.prototype.connect, netConnect: net.connect };
    guard.start([]);
    expect(dns.lookup).not.toBe(before.lookup);
    expect(await outcome(guard.bypass(() => net.connect(port, '127.0.0.1')))).toBe('connected');
    expect(guard.violations).toEqual([]);
    guard.allow({ port });
    expect(await outcome(net.connect(port, '127.0.0.1'))).toBe('connected');
    guard.stop();
    expect({ lookup: dns.lookup, named: (await import('node:dns')).lookup, srv: dns.promises.resolveSrv, connect: net.Socket.prototype.connect, netConnect: net.connect }).toEqual(before);
    expect(Object.hasOwn(dns.Resolver.prototype, 'resolve4')).toBe(ownResolve4);
  });
});
