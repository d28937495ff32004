// Issue 9, item 8: what a stranger learns. Against real child servers over real sockets:
// - a stranger (mallory, no presence subscription) gets byte-for-byte the same replies (modulo
//   ids and the address asked) for an existing account (alice, no vCard, offline) and a missing
//   one (ghost): disco#info, disco#items, vCard, a chat message, a no-store message, and a chat
//   message once alice's offline storage is full — while a contact (carol) still gets answers;
// - software version replies to another domain carry no version (or nothing, if configured);
// - a generated self-signed certificate names the host and nothing else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUsers, startChild, writeChildConfig, type ChildServer } from '../helpers/child-server.js';
import { type El, match, Wire } from '../helpers/wire.js';
import { SocksProxy, darknetConfig } from '../helpers/socks-proxy.js';

const PASS = 'enum-pass';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const PING = `<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`;
const condition = (el: El): string | undefined => el.getChild('error')?.elements().find((e) => e.xmlns === NS_STANZAS && e.local !== 'text')?.local;

const children: ChildServer[] = [];
const clients: Wire[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all(children.map((c) => c.kill()));
  for (const d of [...dirs, ...children.map((c) => c.dir)]) await rm(d, { recursive: true, force: true });
});

async function login(srv: ChildServer, username: string, domain = 'localhost'): Promise<Wire> {
  const c = await Wire.login({ port: srv.port, domain, username, password: PASS, resource: 'r', timeoutMs: 15_000 });
  clients.push(c);
  return c;
}

describe('a stranger cannot tell an existing account from a missing one', () => {
  let srv: ChildServer;
  let mallory: Wire;
  let carol: Wire;

  beforeAll(async () => {
    // Offline storage as the only store of messages for an offline account: with the message
    // archive on, a message past the offline limit is archived and nobody gets an error
    // (test/e2e/mam.test.ts probes strangers with the archive on).
    srv = await startChild({ extra: 'modules_disabled = { "mam" }' });
    children.push(srv);
    await addUsers(srv.configPath, [['alice@localhost', PASS], ['mallory@localhost', PASS], ['carol@localhost', PASS]]);
    // carol is a contact: alice shares her presence with her.
    const alice = await login(srv, 'alice');
    carol = await login(srv, 'carol');
    alice.send('<presence/>');
    carol.send('<presence/>');
    await alice.iq(PING);
    await carol.iq(PING);
    carol.send(`<presence to='alice@localhost' type='subscribe'/>`);
    await alice.waitFor(match('presence', { type: 'subscribe', from: 'carol@localhost' }), 10_000);
    alice.send(`<presence to='carol@localhost' type='subscribed'/>`);
    await carol.waitFor(match('presence', { type: 'subscribed', from: 'alice@localhost' }), 10_000);
    await alice.close();
    mallory = await login(srv, 'mallory');
  }, 60_000);

  /** What mallory gets back for `xml` sent to `target`, with ids and the target's address made neutral. */
  async function probe(target: string, xml: string): Promise<string[]> {
    mallory.clear();
    mallory.send(xml.replaceAll('TARGET', target));
    await mallory.iq(PING, 15_000); // handled in order: everything about `xml` has happened
    await new Promise((r) => setTimeout(r, 200)); // an answer routed back after the ping
    return mallory.inbox.map((e) => e.toString().replaceAll(target, 'TARGET').replace(/ id='[^']*'/g, " id='ID'").replace(/ id="[^"]*"/g, ' id="ID"'));
  }

  const probes: Record<string, string> = {
    'disco#info': `<iq type='get' to='TARGET' id='p1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
    'disco#items': `<iq type='get' to='TARGET' id='p2'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`,
    vCard: `<iq type='get' to='TARGET' id='p3'><vCard xmlns='vcard-temp'/></iq>`,
    'chat message': `<message type='chat' to='TARGET' id='p4'><body>hello?</body></message>`,
    'no-store message': `<message type='chat' to='TARGET' id='p5'><body>hello?</body><no-store xmlns='urn:xmpp:hints'/></message>`,
  };

  for (const [name, xml] of Object.entries(probes)) {
    it(`by ${name}`, async () => {
      const existing = await probe('alice@localhost', xml);
      const missing = await probe('ghost@localhost', xml);
      expect(existing).toEqual(missing);
      // An iq always gets an answer: the comparison is between two real replies.
      if (xml.startsWith('<iq')) expect(missing).toHaveLength(1);
    }, 30_000);
  }

  it('a contact still gets the account\'s disco#info', async () => {
    const r = await carol.iq(`<iq type='get' to='alice@localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(r.attrs.type, r.toString()).toBe('result');
    expect(r.getChild('query')?.getChild('identity')?.attrs).toMatchObject({ category: 'account', type: 'registered' });
  });

  it('by a chat message once the offline storage is full; a contact is told', async () => {
    // Fill alice's offline storage (2 MiB) with a few large messages from carol.
    const body = 'b'.repeat(240 * 1024);
    for (let i = 0; i < 9; i++) carol.send(`<message type='chat' to='alice@localhost' id='fill${i}'><body>${body}</body></message>`);
    await carol.iq(PING, 30_000);
    const refused = carol.inbox.filter((e) => e.name === 'message' && e.attrs.type === 'error');
    expect(refused.length, 'the storage filled up').toBeGreaterThan(0);
    expect(condition(refused[0] as El)).toBe('service-unavailable');

    const existing = await probe('alice@localhost', probes['chat message'] as string);
    const missing = await probe('ghost@localhost', probes['chat message'] as string);
    expect(existing).toEqual(missing);
  }, 60_000);
});

describe('software version to another domain', () => {
  const A = 'a'.repeat(52) + '.b32.i2p';
  const B = 'b'.repeat(52) + '.b32.i2p';
  let proxy: SocksProxy;

  it('names the software without its version; local users get the version', async () => {
    proxy = await SocksProxy.start();
    try {
      const modules = 'modules_enabled = { "roster"; "disco"; "ping"; "vcard"; "darknet"; "version" }';
      const a = await startChild({ s2s: true, extra: `${darknetConfig(proxy.port)}\n${modules}`, hosts: `VirtualHost "${A}"` });
      children.push(a);
      // B says nothing at all to other domains.
      const b = await startChild({ s2s: true, extra: `${darknetConfig(proxy.port)}\n${modules}\nversion_to_remote = "none"`, hosts: `VirtualHost "${B}"` });
      children.push(b);
      proxy.map(A, a.s2sPort).map(B, b.s2sPort);
      await addUsers(a.configPath, [[`alice@${A}`, PASS]]);
      await addUsers(b.configPath, [[`bob@${B}`, PASS]]);
      const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

      const bob = await login(b, 'bob', B);
      const remote = await bob.iq(`<iq type='get' to='${A}'><query xmlns='jabber:iq:version'/></iq>`, 30_000);
      expect(remote.attrs.type, remote.toString()).toBe('result');
      expect(remote.toString()).not.toContain(pkg.version);
      expect(remote.getChild('query')?.getChildText('name')).toBe('Clove');
      expect(remote.getChild('query')?.getChildText('version') ?? '').toBe('');

      const alice = await login(a, 'alice', A);
      const local = await alice.iq(`<iq type='get' to='${A}'><query xmlns='jabber:iq:version'/></iq>`);
      expect(local.getChild('query')?.getChildText('version')).toBe(pkg.version);
      const none = await alice.iq(`<iq type='get' to='${B}'><query xmlns='jabber:iq:version'/></iq>`, 30_000);
      expect(none.attrs.type, none.toString()).toBe('error');
      expect(condition(none)).toBe('service-unavailable');
      expect(none.toString()).not.toMatch(/clove/i);
    } finally {
      await proxy.close();
    }
  }, 60_000);
});

describe('a generated self-signed certificate', () => {
  it('names the host and no product or organisation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'clove-enum-cert-'));
    dirs.push(dir);
    // The child's config, with a certificate directory of its own: the server generates a pair at start.
    const path = await writeChildConfig(dir);
    const text = (await readFile(path, 'utf8')).replace(/^certificates = .*$/m, `certificates = ${JSON.stringify(join(dir, 'certs'))}`);
    await writeFile(path, text);
    const srv = await startChild({ dir });
    children.push(srv);
    const c = await Wire.open({ port: srv.port });
    clients.push(c);
    await c.startTls();
    const cert = c.peerCertificate();
    expect(cert).toBeDefined();
    expect(cert!.subject).toBe('CN=localhost');
    expect(cert!.issuer).toBe('CN=localhost');
    expect(cert!.toString()).not.toMatch(/clove/i);
    const { X509Certificate } = await import('node:crypto');
    expect(new X509Certificate(await readFile(join(dir, 'certs', 'localhost.crt'))).fingerprint256).toBe(cert!.fingerprint256);
  }, 60_000);
});
