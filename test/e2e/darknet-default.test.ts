// Darknet routing is built in (issue 10, item 1): a config naming no modules and no darknet_only
// routes .b32.i2p peers through the SOCKS5 proxy and refuses clearnet domains with the true
// reason, with Node's dns and net instrumented so any leak fails the test; darknet_only with the
// darknet module disabled is a start-up error; `clove check` says which mode is in force.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Wire, match } from '../helpers/wire.js';
import { SocksProxy } from '../helpers/socks-proxy.js';
import { runClove } from '../helpers/child-server.js';
import * as guard from '../helpers/leak-guard.js';

const A = 'a'.repeat(52) + '.b32.i2p';
const B = 'b'.repeat(52) + '.b32.i2p';
const M = 'm'.repeat(52) + '.b32.i2p';

let proxy: SocksProxy;
let a: TestServer;
let b: TestServer;
let dir: string;

beforeAll(async () => {
  proxy = await SocksProxy.start();
  const proxyLines = `darknet_socks5_host = "127.0.0.1"\ndarknet_socks5_port = ${proxy.port}`;
  // A: only the proxy address (what a new operator writes). B: the darknet module disabled and
  // clearnet federation allowed — its .i2p peers must still go through the proxy, never DNS.
  a = await startTestServer({ s2s: true, extra: proxyLines, hosts: `VirtualHost "${A}"` });
  b = await startTestServer({ s2s: true, extra: `${proxyLines}\ndarknet_only = false\nmodules_disabled = { "darknet" }`, hosts: `VirtualHost "${B}"` });
  proxy.map(A, a.server.s2sPort).map(B, b.server.s2sPort);
  await a.addUser('alice', 'alice-pw');
  await b.addUser('bob', 'bob-pw');
  dir = await mkdtemp(join(tmpdir(), 'clove-darknet-'));
});

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await proxy?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Run `fn` with every DNS look-up and TCP connection outside `allowed` recorded; fail on any. */
async function leakFree(allowed: guard.Allowed[], fn: () => Promise<void>): Promise<void> {
  guard.start(allowed);
  try {
    await fn();
  } finally {
    guard.stop();
  }
  guard.assertNoLeaks();
}

const login = (srv: TestServer, username: string) =>
  Wire.login({ port: srv.port, domain: srv.domain, username, password: `${username}-pw`, resource: 'r', timeoutMs: 10_000 });

describe('darknet routing with no module named', () => {
  it('routes .b32.i2p peers both ways through the SOCKS5 proxy, with zero DNS', async () => {
    await leakFree([{ port: proxy.port }, { port: a.port }, { port: b.port }], async () => {
      const alice = await login(a, 'alice');
      const bob = await login(b, 'bob');
      alice.send(`<message to='bob@${B}/r' type='chat' id='m1'><body>hello</body></message>`);
      expect((await bob.waitFor(match('message', { id: 'm1' }), 15_000)).attrs.from).toBe(`alice@${A}/r`);
      bob.send(`<message to='alice@${A}/r' type='chat' id='m2'><body>hi</body></message>`);
      expect((await alice.waitFor(match('message', { id: 'm2' }), 15_000)).attrs.from).toBe(`bob@${B}/r`);
      await Promise.all([alice.close(), bob.close()]);
    });
    expect([...new Set(proxy.requested)].sort()).toEqual([A, B].sort());
  }, 30_000);

  it('refuses a clearnet domain by default with the true reason, asking neither DNS nor the proxy', async () => {
    const before = proxy.requested.length;
    await leakFree([{ port: proxy.port }, { port: a.port }], async () => {
      const alice = await login(a, 'alice');
      alice.send(`<message to='carol@example.org' type='chat' id='c1'><body>x</body></message>`);
      const err = await alice.waitFor(match('message', { id: 'c1', type: 'error' }));
      expect(err.getChild('error')!.getChild('remote-server-not-found')).toBeDefined();
      const text = err.getChild('error')!.getChildText('text');
      expect(text).toMatch(/darknet_only is on: example\.org is a clearnet domain/);
      expect(text).not.toMatch(/not an I2P destination/);
      await alice.close();
    });
    expect(proxy.requested.length).toBe(before);
  }, 30_000);
});

describe('darknet_only with darknet routing disabled', () => {
  it('is a start-up error naming the file and line', async () => {
    const extra = 'darknet_only = true\nmodules_disabled = { "darknet" }';
    await expect(startTestServer({ extra })).rejects.toThrow(/test\.cfg\.lua:7: darknet_only = true but darknet routing is disabled by modules_disabled \(line 8\)/);
    // The default darknet_only counts too: the error then names the modules_disabled line.
    await expect(startTestServer({ extra: 'modules_disabled = { "darknet" }' })).rejects.toThrow(/test\.cfg\.lua:7: darknet_only is on \(the default\) but darknet routing is disabled/);
  });
});

describe('clove check: routing', () => {
  const check = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, `certificates = ${JSON.stringify(join(dir, 'certs'))}\n${text}\nVirtualHost "${A}"\n`);
    return { path, r: await runClove(['--config', path, 'check']) };
  };

  it('reports darknet-only mode and how each darknet_map peer is routed', async () => {
    const { r } = await check('map.cfg.lua', `darknet_socks5_port = 14447\ndarknet_map = { ["i2p.rocks"] = "${M}"; ["other.example"] = { host = "${B}"; port = 5270 } }`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${A}: darknet only (darknet_only = true, the default): s2s goes only through the SOCKS5 proxy 127.0.0.1:14447; clearnet hosts are never dialled\n`);
    expect(r.stdout).toContain(`${A}: darknet_map i2p.rocks → ${M}:5269 through the SOCKS5 proxy 127.0.0.1:14447\n`);
    expect(r.stdout).toContain(`${A}: darknet_map other.example → ${B}:5270 through the SOCKS5 proxy 127.0.0.1:14447\n`);
    expect(r.stderr).not.toMatch(/clearnet federation/);
  }, 30_000);

  it('warns when clearnet federation is on, naming the line', async () => {
    const { path, r } = await check('clear.cfg.lua', 'darknet_only = false');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${A}: clearnet federation ON (darknet_only = false)`);
    expect(r.stderr).toContain(`warning: ${path}:2: ${A}: darknet_only = false: clearnet federation is on`);
  }, 30_000);

  it('fails for darknet_only with the darknet module disabled', async () => {
    const { path, r } = await check('bad.cfg.lua', 'darknet_only = true\nmodules_disabled = { "darknet" }');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${path}:2: darknet_only = true but darknet routing is disabled by modules_disabled (line 3)`);
  }, 30_000);
});
