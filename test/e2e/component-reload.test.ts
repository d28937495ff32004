// A config reload adds and removes components like hosts (in-process: server.apply with the
// re-read config, as SIGHUP does after reading the file): the component listener opens when the
// first external component arrives, an added component routes and is listed in disco#items, and
// a removed external component's stream is closed (host-gone) and its domain stops routing.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CERT_DIR, startTestServer, type TestServer } from '../helpers/server.js';
import { Wire, match } from '../helpers/wire.js';
import { closedWith, componentHandshake, openComponentStream } from '../helpers/component-wire.js';
import { testComponent } from '../helpers/test-component.js';
import { parseConfig } from '../../src/config/config.js';
import { changedOptions } from '../../src/config/changes.js';

const GLOBAL = 'interfaces = { "127.0.0.1" }\nc2s_ports = { 0 }\ns2s_ports = { }\ncomponent_ports = { 0 }\nclove_bcrypt_cost = 4\n';
const BASE = 'VirtualHost "localhost"\n';
const WITH = `${BASE}Component "gw.localhost"\n  component_secret = "gw-secret"\nComponent "rooms.localhost" "test_component"\n`;

let ts: TestServer;
let alice: Wire;
const comp = testComponent();

/** Apply `hosts` as a reload would; returns the report. */
async function reload(hosts: string) {
  const next = parseConfig(`${GLOBAL}data_path = ${JSON.stringify(join(ts.dir, 'data'))}\ncertificates = ${JSON.stringify(TEST_CERT_DIR)}\n${hosts}`, join(ts.dir, 'test.cfg.lua'));
  return ts.server.apply(next, changedOptions(ts.server.config, next));
}

const discoItems = async (): Promise<string[]> => {
  const r = await alice.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
  return r.getChild('query')!.getChildren('item').map((i) => i.attrs.jid as string);
};

beforeAll(async () => {
  ts = await startTestServer({ extra: 'component_ports = { 0 }', hosts: BASE, extraModules: [comp.module] });
  await ts.addUser('alice', 'alice-pw');
  alice = await Wire.login({ port: ts.port, username: 'alice', password: 'alice-pw', resource: 'r' });
});

afterAll(async () => {
  alice?.destroy();
  await ts?.stop();
});

describe('reloading components', () => {
  it('adds an external and an internal component: the listener opens, both route, disco lists them', async () => {
    expect(ts.server.componentPort).toBe(0); // no external component yet: nothing listens
    const report = await reload(WITH);
    expect(report.added.sort()).toEqual(['gw.localhost', 'rooms.localhost']);
    expect(report.errors).toEqual([]);
    expect(ts.server.componentPort).toBeGreaterThan(0);

    const w = await openComponentStream(ts.server.componentPort, 'gw.localhost');
    expect(await componentHandshake(w, 'gw-secret')).toBe(true);
    alice.send(`<message to='x@gw.localhost' type='chat' id='g1'><body>to the gateway</body></message>`);
    await w.waitFor(match('message', { to: 'x@gw.localhost' }, (el) => el.getChildText('body') === 'to the gateway'));

    alice.send(`<message to='room@rooms.localhost' type='chat'><body>hi</body></message>`);
    await alice.waitFor(match('message', { from: 'room@rooms.localhost' }));
    expect(await discoItems()).toEqual(expect.arrayContaining(['gw.localhost', 'rooms.localhost']));

    // Removing them: the external component's stream ends with host-gone; neither routes any more.
    const removed = await reload(BASE);
    expect(removed.removed.sort()).toEqual(['gw.localhost', 'rooms.localhost']);
    expect(await closedWith(w)).toBe('host-gone');
    for (const to of ['x@gw.localhost', 'room@rooms.localhost']) {
      const r = await alice.iq(`<iq type='get' to='${to}'><ping xmlns='urn:xmpp:ping'/></iq>`);
      expect(r.getChild('error')?.elements()[0]?.name).toBe('gone');
    }
    expect(await discoItems()).not.toEqual(expect.arrayContaining(['gw.localhost']));
    expect(await discoItems()).not.toEqual(expect.arrayContaining(['rooms.localhost']));
  });

  it('names added and removed components in the reload summary', () => {
    const a = parseConfig(`${GLOBAL}${BASE}`, 'a.cfg.lua');
    const b = parseConfig(`${GLOBAL}${WITH}`, 'b.cfg.lua');
    expect(changedOptions(a, b)).toEqual(['Component "gw.localhost" (added)', 'Component "rooms.localhost" "test_component" (added)']);
    expect(changedOptions(b, a)).toEqual(['Component "gw.localhost" (removed)', 'Component "rooms.localhost" "test_component" (removed)']);
  });
});
