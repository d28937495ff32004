// SIGHUP under a running `clove start` child: VirtualHosts added and removed, certificates
// renewed in place, and a broken certificate refused, all without dropping a connected client.
// Children listen on 127.0.0.1 port 0 and are stopped by PID.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { removeChildDir, runClove, startChild, writeChildConfig, type ChildServer } from '../helpers/child-server.js';
import { Wire, match } from '../helpers/wire.js';
import { generateSelfSigned } from '../../src/net/certs.js';
import { SocksProxy } from '../helpers/socks-proxy.js';

const children: ChildServer[] = [];
afterAll(async () => {
  for (const c of children) {
    await c.kill('SIGKILL').catch(() => undefined);
    await removeChildDir(c.dir);
  }
});

async function child(extra: string, hosts: string): Promise<ChildServer> {
  const c = await startChild({ extra: `pidfile = "clove.pid"\n${extra}`, hosts });
  children.push(c);
  await c.waitForLog((l) => /^pidfile .* written/.test(l.msg));
  return c;
}

/** Rewrite the child's config, send SIGHUP and wait for the reload's summary line. */
async function reload(c: ChildServer, extra: string, hosts: string): Promise<string> {
  const seen = c.logs().filter((l) => l.msg.startsWith('SIGHUP: config')).length;
  await writeChildConfig(c.dir, `pidfile = "clove.pid"\n${extra}`, { hosts });
  process.kill(c.pid, 'SIGHUP');
  await c.waitForLog(() => c.logs().filter((l) => l.msg.startsWith('SIGHUP: config')).length > seen, 10_000);
  return c.logs().filter((l) => l.msg.startsWith('SIGHUP: config')).at(-1)!.msg;
}

/** The client answers a ping: its session survived. */
async function alive(c: Wire): Promise<void> {
  const id = `p${Math.random().toString(36).slice(2)}`;
  const pong = c.waitFor(match('iq', { id }));
  c.send(`<iq type='get' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);
  expect((await pong).attrs.type).toBe('result');
  expect(c.closed).toBe(false);
}

describe('SIGHUP and VirtualHosts', () => {
  it('serves a host added to the config, then ends its sessions with host-gone when it is removed', async () => {
    const one = 'VirtualHost "localhost"\n  modules_enabled = { "ping" }';
    const two = `${one}\nVirtualHost "second.test"\n  modules_enabled = { "ping" }`;
    const s = await child('', one);
    expect((await runClove(['--config', s.configPath, 'register', 'alice', 'localhost', 'alice-pass'])).code).toBe(0);
    const alice = await Wire.login({ port: s.port, username: 'alice', password: 'alice-pass', resource: 'r' });
    // Not served yet.
    await expect(Wire.open({ port: s.port, domain: 'second.test' })).rejects.toThrow(/host-unknown/);

    const added = await reload(s, '', two);
    expect(added).toBe(`SIGHUP: config ${s.configPath} reloaded; changed: VirtualHost "second.test" (added); all applied`);
    expect((await runClove(['--config', s.configPath, 'register', 'bob', 'second.test', 'bob-pass'])).code).toBe(0);
    const bob = await Wire.login({ port: s.port, domain: 'second.test', username: 'bob', password: 'bob-pass', resource: 'r' });
    expect(bob.jid).toBe('bob@second.test/r');
    // The new host got its own certificate and routes between hosts like any other.
    expect(s.logs().some((l) => l.host === 'second.test' && /^certificate SHA-256 fingerprint/.test(l.msg))).toBe(true);
    const got = bob.waitFor(match('message', { from: 'alice@localhost/r' }));
    alice.send(`<message to='bob@second.test/r' type='chat' id='m1'><body>hello across hosts</body></message>`);
    expect((await got).getChildText('body')).toBe('hello across hosts');
    await alive(alice);

    const removed = await reload(s, '', one);
    expect(removed).toBe(`SIGHUP: config ${s.configPath} reloaded; changed: VirtualHost "second.test" (removed); all applied`);
    await expect(bob.waitFor(match('never'), 5000)).rejects.toThrow(/host-gone/);
    await expect(Wire.open({ port: s.port, domain: 'second.test' })).rejects.toThrow(/host-unknown/);
    // The other host's session never noticed; its stored data is untouched.
    await alive(alice);
    await alice.close();
    expect(await s.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 40_000);

  it('removing a host ends its hibernating sessions; what they held is bounced with gone, never sent out', async () => {
    const both = 'VirtualHost "localhost"\nVirtualHost "third.test"';
    const s = await child('', both);
    expect((await runClove(['--config', s.configPath, 'register', 'fay', 'localhost', 'fay-pass'])).code).toBe(0);
    expect((await runClove(['--config', s.configPath, 'register', 'gus', 'third.test', 'gus-pass'])).code).toBe(0);
    const fay = await Wire.login({ port: s.port, username: 'fay', password: 'fay-pass', resource: 'r' });
    const gus = await Wire.login({ port: s.port, domain: 'third.test', username: 'gus', password: 'gus-pass', resource: 'r' });
    gus.send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
    await gus.waitFor(match('enabled'));
    gus.destroy(); // lost: the session hibernates with XEP-0198
    await new Promise((r) => setTimeout(r, 200));
    fay.send(`<message to='gus@third.test/r' type='chat' id='held'><body>are you there?</body></message>`);
    await alive(fay);

    await reload(s, '', 'VirtualHost "localhost"');
    const bounced = await fay.waitFor(match('message', { type: 'error', id: 'held' }), 5000);
    expect(bounced.getChild('error')!.toString()).toMatch(/<gone /);
    // Nothing for the removed domain went to federation.
    expect(s.logs().some((l) => /^s2s/.test(l.msg))).toBe(false);
    await alive(fay);
    expect(await s.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 30_000);

  it('a host whose certificate is missing is not added; the others keep running', async () => {
    const one = 'VirtualHost "localhost"';
    const s = await child('', one);
    const line = await reload(s, '', `${one}\nVirtualHost "broken.test"\n  ssl = { key = "${join(s.dir, 'nowhere.key')}"; certificate = "${join(s.dir, 'nowhere.crt')}" }`);
    expect(line).toBe(`SIGHUP: config ${s.configPath} reloaded; changed: VirtualHost "broken.test" (added); some could not be applied (below)`);
    const err = await s.waitForLog((l) => l.msg.startsWith('SIGHUP: not applied: broken.test'));
    expect(err.msg).toContain(`${join(s.dir, 'nowhere.key')}: file not found`);
    await expect(Wire.open({ port: s.port, domain: 'broken.test' })).rejects.toThrow(/host-unknown/);
    const probe = await Wire.open({ port: s.port });
    probe.destroy();
    expect(await s.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 30_000);
});

describe('SIGHUP and certificates', () => {
  it('a certificate renewed at the same path is used for new connections; a broken one is refused', async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const certDir = await mkdtemp(join(tmpdir(), 'clove-reload-certs-'));
    const key = join(certDir, 'localhost.key');
    const crt = join(certDir, 'localhost.crt');
    const first = await generateSelfSigned('localhost', 30);
    await writeFile(key, first.key, { mode: 0o640 });
    await writeFile(crt, first.cert);
    const hosts = `VirtualHost "localhost"\n  ssl = { key = "${key}"; certificate = "${crt}" }`;
    const s = await child('', hosts);
    expect((await runClove(['--config', s.configPath, 'register', 'carol', 'localhost', 'carol-pass'])).code).toBe(0);
    const before = await Wire.login({ port: s.port, username: 'carol', password: 'carol-pass', resource: 'before' });
    expect(before.peerFingerprint()).toBe(new X509Certificate(first.cert).fingerprint256);

    // Renewed in place (what certbot or `clove cert generate` does), config unchanged.
    const second = await generateSelfSigned('localhost', 90);
    await writeFile(key, second.key);
    await writeFile(crt, second.cert);
    const line = await reload(s, '', hosts);
    expect(line).toBe(`SIGHUP: config ${s.configPath} reloaded; nothing changed; new certificate for localhost`);
    const after = await Wire.login({ port: s.port, username: 'carol', password: 'carol-pass', resource: 'after' });
    expect(after.peerFingerprint()).toBe(new X509Certificate(second.cert).fingerprint256);
    await alive(before);

    // A half-written or wrong file: the reload says so and the running certificate stays.
    await writeFile(crt, '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n');
    await reload(s, '', hosts);
    const err = await s.waitForLog((l) => l.msg.startsWith('SIGHUP: not applied: localhost'));
    expect(err.msg).toContain(crt);
    const third = await Wire.login({ port: s.port, username: 'carol', password: 'carol-pass', resource: 'third' });
    expect(third.peerFingerprint()).toBe(new X509Certificate(second.cert).fingerprint256);
    for (const c of [before, after, third]) await alive(c);
    expect(await s.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    await removeChildDir(certDir);
  }, 40_000);
});

describe('SIGHUP and modules', () => {
  const features = async (c: Wire): Promise<string[]> =>
    (await c.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`))
      .getChild('query')!.getChildren('feature').map((f) => f.attrs.var as string);

  it('loads modules added to modules_enabled and unloads removed ones, keeping sessions', async () => {
    const mods = (list: string): string => `modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; ${list} }`;
    const s = await child(mods('"ping"'), 'VirtualHost "localhost"');
    expect((await runClove(['--config', s.configPath, 'register', 'dave', 'localhost', 'dave-pass'])).code).toBe(0);
    const c = await Wire.login({ port: s.port, username: 'dave', password: 'dave-pass', resource: 'r' });
    expect(await features(c)).not.toContain('jabber:iq:version');
    const before = await c.iq(`<iq type='get' to='localhost'><query xmlns='jabber:iq:version'/></iq>`);
    expect(before.attrs.type).toBe('error');

    const line = await reload(s, mods('"ping"; "version"'), 'VirtualHost "localhost"');
    expect(line).toBe(`SIGHUP: config ${s.configPath} reloaded; changed: modules_enabled; all applied`);
    await s.waitForLog((l) => l.msg === 'modules changed by a config reload' && (l.loaded as string[]).includes('version'));
    // The same session now sees the new module, in disco and in answers.
    expect(await features(c)).toContain('jabber:iq:version');
    const v = await c.iq(`<iq type='get' to='localhost'><query xmlns='jabber:iq:version'/></iq>`);
    expect(v.getChild('query')!.getChildText('name')).toBe('Clove');

    // Ping removed: its feature and its answers go; the session stays.
    await reload(s, mods('"version"'), 'VirtualHost "localhost"');
    await s.waitForLog((l) => l.msg === 'modules changed by a config reload' && (l.unloaded as string[]).includes('ping'));
    expect(await features(c)).not.toContain('urn:xmpp:ping');
    const ping = await c.iq(`<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(ping.attrs.type).toBe('error');
    expect(c.closed).toBe(false);
    await c.close();
    expect(await s.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 40_000);

  it('darknet_map applies live: a domain refused before is sent to the proxy after the reload', async () => {
    const proxy = await SocksProxy.start();
    try {
      const b32 = 'q'.repeat(52) + '.b32.i2p';
      const base = [
        'modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "darknet" }',
        'darknet_only = true',
        `darknet_socks5_port = ${proxy.port}`,
        's2s_connect_timeout = 5',
      ].join('\n');
      const s = await startChild({ extra: `pidfile = "clove.pid"\n${base}`, hosts: 'VirtualHost "localhost"', s2s: true });
      children.push(s);
      await s.waitForLog((l) => /^pidfile .* written/.test(l.msg));
      expect((await runClove(['--config', s.configPath, 'register', 'erin', 'localhost', 'erin-pass'])).code).toBe(0);
      const c = await Wire.login({ port: s.port, username: 'erin', password: 'erin-pass', resource: 'r' });
      const bounced = c.waitFor(match('message', { type: 'error', id: 'm1' }));
      c.send(`<message to='friend@clearnet.example' type='chat' id='m1'><body>hi</body></message>`);
      expect((await bounced).getChild('error')!.toString()).toMatch(/remote-server-not-found/);
      expect(proxy.requested).toEqual([]);

      const seen = s.logs().filter((l) => l.msg.startsWith('SIGHUP: config')).length;
      await writeChildConfig(s.dir, `pidfile = "clove.pid"\n${base}\ndarknet_map = { ["clearnet.example"] = "${b32}" }`, { hosts: 'VirtualHost "localhost"', s2s: true });
      process.kill(s.pid, 'SIGHUP');
      const line = await s.waitForLog(() => s.logs().filter((l) => l.msg.startsWith('SIGHUP: config')).length > seen);
      expect(s.logs().filter((l) => l.msg.startsWith('SIGHUP: config')).at(-1)!.msg).toContain('changed: darknet_map; all applied');
      expect(line).toBeDefined();
      await s.waitForLog((l) => l.msg === 'darknet routing reloaded');
      c.send(`<message to='friend@clearnet.example' type='chat' id='m2'><body>hi again</body></message>`);
      // The proxy is asked for the mapped b32 name (it has no server behind it); never the clearnet name.
      await expect.poll(() => proxy.requested, { timeout: 10_000 }).toContain(b32);
      expect(proxy.requested).not.toContain('clearnet.example');
      await c.close();
      expect(await s.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    } finally {
      await proxy.close();
    }
  }, 40_000);
});

describe('SIGHUP and the log option', () => {
  it('a new level applies at once; new destinations wait for a restart and say so', async () => {
    const s = await child('', 'VirtualHost "localhost"');
    // A stream error is logged at debug level: invisible at "info".
    const streamErrorLogged = (): boolean => s.logs().some((l) => l.level === 20 && l.msg === 'stream error');
    await expect(Wire.open({ port: s.port, domain: 'nowhere.example' })).rejects.toThrow(/host-unknown/);
    await new Promise((r) => setTimeout(r, 200));
    expect(streamErrorLogged()).toBe(false);

    const line = await reload(s, 'log = "debug"', 'VirtualHost "localhost"');
    expect(line).toBe(`SIGHUP: config ${s.configPath} reloaded; changed: log; all applied`);
    await expect(Wire.open({ port: s.port, domain: 'nowhere.example' })).rejects.toThrow(/host-unknown/);
    await s.waitForLog((l) => l.level === 20 && l.msg === 'stream error');

    const file = join(s.dir, 'clove.err');
    const later = await reload(s, `log = { debug = "*console"; error = ${JSON.stringify(file)} }`, 'VirtualHost "localhost"');
    expect(later).toBe(`SIGHUP: config ${s.configPath} reloaded; changed: log; these apply after a restart (clove restart): log`);
    // Until the restart, every reload still says so.
    const again = await reload(s, `log = { debug = "*console"; error = ${JSON.stringify(file)} }`, 'VirtualHost "localhost"');
    expect(again).toBe(`SIGHUP: config ${s.configPath} reloaded; nothing changed; these apply after a restart (clove restart): log`);
    expect(await s.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 30_000);
});

describe('SIGHUP and module options', () => {
  it('a bad value of an option a module reads fails the whole reload with file:line; a good one applies live', async () => {
    const hosts = 'VirtualHost "localhost"';
    const s = await child('', hosts);
    expect((await runClove(['--config', s.configPath, 'register', 'alice', 'localhost', 'alice-pass'])).code).toBe(0);
    const alice = await Wire.login({ port: s.port, username: 'alice', password: 'alice-pass', resource: 'r' });
    /** Whether software version replies (XEP-0092) name the OS: hide_os_type, read by the version module. */
    const showsOs = async (): Promise<boolean> => {
      const id = `v${Math.random().toString(36).slice(2)}`;
      const reply = alice.waitFor(match('iq', { id }));
      alice.send(`<iq type='get' id='${id}' to='localhost'><query xmlns='jabber:iq:version'/></iq>`);
      const got = await reply;
      expect(got.attrs.type).toBe('result');
      return got.getChild('query')?.getChild('os') !== undefined;
    };
    expect(await showsOs()).toBe(false);

    // Lines 10–12 of the written file: pidfile, hide_os_type, admins (checked by admin_adhoc).
    const refused = await reload(s, 'hide_os_type = false\nadmins = { "not-a-jid" }', hosts);
    expect(refused).toBe(`SIGHUP: config reload failed, keeping the running config: ${s.configPath}:12: 'not-a-jid' is not a user's bare JID (like admin@example.org) (option 'admins')`);
    expect(await showsOs()).toBe(false); // nothing of that file was applied
    // The darknet module's own checks refuse a reload the same way.
    const proxyByName = await reload(s, 'hide_os_type = false\ndarknet_socks5_host = "i2pd.lan"', hosts);
    expect(proxyByName).toMatch(new RegExp(`^SIGHUP: config reload failed, keeping the running config: ${s.configPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:12: option 'darknet_socks5_host' must be an IP address`));
    expect(await showsOs()).toBe(false);

    const applied = await reload(s, 'hide_os_type = false\nadmins = { "root@localhost" }', hosts);
    expect(applied).toBe(`SIGHUP: config ${s.configPath} reloaded; changed: admins, hide_os_type; all applied`);
    expect(await showsOs()).toBe(true);
    expect(alice.closed).toBe(false);
    await alice.close();
    expect(await s.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 40_000);
});
