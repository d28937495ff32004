// Interoperability with a real Prosody (Debian 0.12 + mod_onions from prosody-modules), both
// ways with dialback, everything through the SOCKS5 test proxy standing in for i2pd:
// - Clove (a b32 domain, darknet_only) reaches Prosody's clearnet-looking domain through its
//   darknet_map entry, so the proxy is asked for the mapped b32 name, never for the domain;
// - Prosody reaches Clove through mod_onions (onions_map + onions_socks5_port = the proxy),
//   both for its own outbound stream and for its db:verify requests as a receiving server.
// Clove's config names no modules and leaves darknet_only at its default (what a new operator
// writes: the proxy port and the peer's darknet_map entry): darknet routing is built in.
// Node's dns and net are guarded on the Clove side; Prosody is another process, so its log is
// checked instead for the mod_onions route.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Wire, match } from '../helpers/wire.js';
import { SocksProxy } from '../helpers/socks-proxy.js';
import { startProsody, prosodyAvailable, onionsModuleDir, type ProsodyServer } from '../helpers/prosody.js';
import * as guard from '../helpers/leak-guard.js';

const CLOVE = 'c'.repeat(52) + '.b32.i2p';
const PROSODY = 'prosody.example';
/** The I2P destination standing for Prosody's server; only darknet_map knows it is Prosody's. */
const PROSODY_B32 = 'p'.repeat(52) + '.b32.i2p';

const ready = prosodyAvailable() && onionsModuleDir() !== undefined;

/** Clove's options: the proxy's port and the route to Prosody, nothing else (no module named). */
const cloveConfig = (proxyPort: number): string => [
  `darknet_socks5_port = ${proxyPort}`,
  `darknet_map = { ["${PROSODY}"] = "${PROSODY_B32}" }`,
].join('\n');

let proxy: SocksProxy;
let clove: TestServer;
let prosody: ProsodyServer | undefined;

beforeAll(async () => {
  if (!ready) return;
  proxy = await SocksProxy.start();
  clove = await startTestServer({ s2s: true, hosts: `VirtualHost "${CLOVE}"`, extra: cloveConfig(proxy.port) });
  await clove.addUser('alice', 'alice-pw');
  prosody = await startProsody({
    domain: PROSODY,
    users: [{ user: 'bob', password: 'bob-pw' }],
    onions: { socksPort: proxy.port, map: { [CLOVE]: CLOVE } },
  });
  proxy.map(CLOVE, clove.server.s2sPort).map(PROSODY_B32, prosody.s2sPort);
});

afterAll(async () => {
  await prosody?.stop();
  await clove?.stop();
  await proxy?.close();
});

const loginClove = () =>
  Wire.login({ port: clove.port, domain: CLOVE, username: 'alice', password: 'alice-pw', resource: 'r', timeoutMs: 10_000 });
const loginProsody = (p: ProsodyServer) =>
  Wire.login({ port: p.c2sPort, domain: PROSODY, username: 'bob', password: 'bob-pw', resource: 'r', timeoutMs: 10_000 });

describe.skipIf(!ready)('federation with Prosody (mod_onions) through the SOCKS5 proxy', () => {
  it('runs Clove with a config that names no modules and leaves darknet_only at its default', () => {
    expect(cloveConfig(1)).not.toMatch(/modules_enabled|modules_disabled|darknet_only|"darknet"/);
    const config = clove.server.config;
    expect(config.setIn('modules_enabled', CLOVE)).toBeUndefined();
    expect(config.setIn('modules_disabled', CLOVE)).toBeUndefined();
    expect(config.get<boolean>('darknet_only', CLOVE)).toBe(true);
  });

  it('subscribes, sees presence and chats both ways with dialback, leaking nothing', async () => {
    const p = prosody as ProsodyServer;
    const explain = (err: unknown): never => {
      throw new Error(`${(err as Error).message}\n${p.tail(60)}`);
    };
    guard.start([{ port: proxy.port }, { port: clove.port }, { port: p.c2sPort }]);
    try {
      const alice = await loginClove();
      const bob = await loginProsody(p);
      try {
        await alice.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
        await bob.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
        alice.send('<presence/>');
        bob.send('<presence/>');

        // Clove → Prosody: Clove's outbound stream (darknet_map), Prosody verifies the key
        // through mod_onions. bob approves; Prosody → Clove carries the approval and bob's
        // presence on Prosody's own outbound stream (mod_onions), which Clove verifies back.
        alice.send(`<presence to='bob@${PROSODY}' type='subscribe'/>`);
        await bob.waitFor(match('presence', { type: 'subscribe', from: `alice@${CLOVE}` }), 20_000);
        bob.send(`<presence to='alice@${CLOVE}' type='subscribed'/>`);
        await alice.waitFor(match('presence', { type: 'subscribed', from: `bob@${PROSODY}` }), 20_000);
        await alice.waitFor(match('presence', { from: `bob@${PROSODY}/r`, type: null }), 20_000);

        // And the other way round.
        bob.send(`<presence to='alice@${CLOVE}' type='subscribe'/>`);
        await alice.waitFor(match('presence', { type: 'subscribe', from: `bob@${PROSODY}` }), 15_000);
        alice.send(`<presence to='bob@${PROSODY}' type='subscribed'/>`);
        await bob.waitFor(match('presence', { from: `alice@${CLOVE}/r`, type: null }), 15_000);

        const aliceRoster = await alice.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
        const bobItem = aliceRoster.getChild('query')!.getChildren('item').find((i) => i.attrs.jid === `bob@${PROSODY}`);
        expect(bobItem?.attrs.subscription).toBe('both');
        const bobRoster = await bob.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
        const aliceItem = bobRoster.getChild('query')!.getChildren('item').find((i) => i.attrs.jid === `alice@${CLOVE}`);
        expect(aliceItem?.attrs.subscription).toBe('both');

        // Messages both ways.
        alice.send(`<message to='bob@${PROSODY}/r' type='chat' id='m1'><body>hello Prosody, over I2P</body></message>`);
        const m1 = await bob.waitFor(match('message', { id: 'm1' }), 15_000);
        expect(m1.attrs.from).toBe(`alice@${CLOVE}/r`);
        expect(m1.getChildText('body')).toBe('hello Prosody, over I2P');
        bob.send(`<message to='alice@${CLOVE}' type='chat' id='m2'><body>hi Clove</body></message>`);
        const m2 = await alice.waitFor(match('message', { id: 'm2' }), 15_000);
        expect(m2.attrs.from).toBe(`bob@${PROSODY}/r`);
        expect(m2.getChildText('body')).toBe('hi Clove');

        // Going offline crosses both ways too (a resource that is itself unavailable gets no
        // presence, so alice comes back before bob leaves; bob leaves by closing his stream).
        alice.send('<presence type="unavailable"/>');
        await bob.waitFor(match('presence', { from: `alice@${CLOVE}/r`, type: 'unavailable' }), 15_000);
        alice.send('<presence><show>away</show></presence>');
        const back = await bob.waitFor(match('presence', { from: `alice@${CLOVE}/r`, type: null }), 15_000);
        expect(back.getChildText('show')).toBe('away');
        await bob.close();
        await alice.waitFor(match('presence', { from: `bob@${PROSODY}/r`, type: 'unavailable' }), 15_000);
      } catch (err) {
        explain(err);
      } finally {
        await alice.close();
        await bob.close();
      }
    } finally {
      guard.stop();
    }
    guard.assertNoLeaks();

    // The proxy was asked only for the two b32 names: Clove never sent "prosody.example"
    // anywhere, and Clove's own name can only have come from Prosody (through mod_onions).
    expect(proxy.requested).not.toContain(PROSODY);
    expect([...new Set(proxy.requested)].sort()).toEqual([CLOVE, PROSODY_B32].sort());

    // Prosody's side (another process, not guarded): mod_onions took every stream to Clove's
    // domain through the proxy — mod_s2s never opened one itself (no DNS look-up) — and
    // dialback ran in all roles: Prosody asked Clove about Clove's key over a mod_onions stream
    // (receiving), Clove asked Prosody about Prosody's key (Prosody authoritative), and each
    // side's outbound stream was authenticated.
    const log = p.log();
    const lines = log.split('\n');
    try {
      expect(log).toContain(`Onion routing something to ${CLOVE}`);
      expect(log).toContain(`Connecting to ${CLOVE}:5269`);
      expect(log).toContain('Should connect to: 0.0.0.0:0');
      expect(log).not.toContain('opening a new outgoing connection for this stanza');
      expect(log).toContain(`asking ${CLOVE} if key`);
      expect(lines.some((l) => l.includes('Received[s2sout') && l.includes('<verify') && l.includes("type='valid'"))).toBe(true);
      expect(log).toContain('verified dialback key... it is valid');
      expect(log).toContain(`Outgoing s2s connection ${PROSODY}->${CLOVE} complete`);
      expect(log).toContain(`Incoming s2s connection ${CLOVE}->${PROSODY} complete`);
    } catch (err) {
      explain(err);
    }
  }, 50_000);
});
