// The documented ways a Prosody peer reaches a Clove component over I2P (docs/i2p.md,
// "Components over I2P"), with a real Prosody (Debian + mod_onions) and the SOCKS5 test proxy:
// a component with its own b32 name (its own i2pd destination, mapped in the proxy to Clove's
// s2s port), and a subdomain of Clove's b32 name that the Prosody peer maps to Clove's b32 (the
// map entry every Prosody peer adds). Messages go both ways, so dialback ran for the component
// domains in both directions; the proxy is never asked for the subdomain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Wire, match } from '../helpers/wire.js';
import { SocksProxy } from '../helpers/socks-proxy.js';
import { startProsody, prosodyAvailable, onionsModuleDir, type ProsodyServer } from '../helpers/prosody.js';
import { testComponent } from '../helpers/test-component.js';

const CLOVE = 'k'.repeat(52) + '.b32.i2p';
const SUB = `rooms.${CLOVE}`;
const OWN = 'm'.repeat(52) + '.b32.i2p';
const PROSODY = 'prosody.example';
const PROSODY_B32 = 'n'.repeat(52) + '.b32.i2p';

const ready = prosodyAvailable() && onionsModuleDir() !== undefined;
const comp = testComponent();

let proxy: SocksProxy;
let clove: TestServer;
let prosody: ProsodyServer | undefined;

beforeAll(async () => {
  if (!ready) return;
  proxy = await SocksProxy.start();
  clove = await startTestServer({
    s2s: true,
    hosts: `VirtualHost "${CLOVE}"\nComponent "${SUB}" "test_component"\nComponent "${OWN}" "test_component"\n`,
    extra: [`darknet_socks5_port = ${proxy.port}`, `darknet_map = { ["${PROSODY}"] = "${PROSODY_B32}" }`].join('\n'),
    extraModules: [comp.module],
  });
  prosody = await startProsody({
    domain: PROSODY,
    users: [{ user: 'bob', password: 'bob-pw' }],
    onions: { socksPort: proxy.port, map: { [CLOVE]: CLOVE, [SUB]: CLOVE, [OWN]: OWN } },
  });
  proxy.map(CLOVE, clove.server.s2sPort).map(OWN, clove.server.s2sPort).map(PROSODY_B32, prosody.s2sPort);
}, 40_000);

afterAll(async () => {
  await prosody?.stop();
  await clove?.stop();
  await proxy?.close();
});

describe.skipIf(!ready)('a Prosody peer reaching Clove components over I2P', () => {
  it('reaches a component by its own b32 and a b32 subdomain through its map entry, and gets answers', async () => {
    const p = prosody as ProsodyServer;
    const bob = await Wire.login({ port: p.c2sPort, domain: PROSODY, username: 'bob', password: 'bob-pw', resource: 'r', timeoutMs: 10_000 });
    try {
      for (const to of [`room@${OWN}/nick`, `room@${SUB}`]) {
        bob.send(`<message to='${to}' type='chat'><body>hello component</body></message>`);
        const answer = await bob.waitFor(match('message', { from: to }), 20_000);
        expect(answer.getChildText('body')).toMatch(/^component got /);
        expect(comp.seen).toContain(`${to.includes('/') ? 'full' : 'bare'} ${to}`);
      }
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${p.tail(60)}`);
    } finally {
      await bob.close();
    }
    expect(proxy.requested).not.toContain(SUB);
    expect([...new Set(proxy.requested)].sort()).toEqual([CLOVE, OWN, PROSODY_B32].sort());
  }, 60_000);
});
