// Last activity of users (XEP-0012) end to end: raw clients make alice and bob contacts, xmpp.js
// asks as bob's second resource and as a stranger, against a real Clove on 127.0.0.1, port 0,
// with file storage so a restart shows the last logout survives.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { connectXmppjs, xml, type XmppjsClient, type XmlElement } from '../helpers/xmppjs.js';
import { Wire } from '../helpers/wire.js';
import { friends } from '../helpers/contacts.js';

const NS_LAST = 'jabber:iq:last';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const MODULES = 'modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "uptime"; "lastactivity" }';
const PASS = 'last pass';

let ts: TestServer;
let dir: string;
const clients: XmppjsClient[] = [];
const wires: Wire[] = [];

const start = (): Promise<TestServer> => startTestServer({ extra: MODULES, storage: 'file', ...(dir ? { dir } : {}) });

beforeAll(async () => {
  ts = await start();
  dir = ts.dir;
  for (const u of ['alice', 'bob', 'carol']) await ts.addUser(u, PASS);
});

afterEach(async () => {
  await Promise.all([...clients.splice(0).map((c) => c.stop()), ...wires.splice(0).map((w) => w.close())]);
});

afterAll(async () => {
  await ts?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function xmppjs(username: string, resource: string): Promise<XmppjsClient> {
  const c = await connectXmppjs(ts, { username, password: PASS, resource });
  clients.push(c);
  return c;
}

async function wire(username: string): Promise<Wire> {
  const w = await Wire.login({ port: ts.port, username, password: PASS, resource: 'raw' });
  wires.push(w);
  return w;
}

const lastOf = (c: XmppjsClient, to: string): Promise<XmlElement> => c.iq(xml('iq', { type: 'get', to }, xml('query', { xmlns: NS_LAST })));
const condition = (r: XmlElement): string | undefined => r.getChild('error')?.getChildElements().find((e) => e.getNS() === NS_STANZAS)?.name;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('last activity (XEP-0012)', () => {
  it('tells a contact how long ago the user logged out and with what status, also after a restart', async () => {
    const alice = await wire('alice');
    const bob = await wire('bob');
    await friends(alice, bob);
    const asker = await xmppjs('bob', 'xjs');
    const info = await asker.iq(xml('iq', { type: 'get', to: 'alice@localhost' }, xml('query', { xmlns: NS_DISCO_INFO })));
    expect(info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var)).toContain(NS_LAST);

    const before = await lastOf(asker, 'alice@localhost');
    expect(before.attrs.type).toBe('result');
    expect(before.getChild('query', NS_LAST)?.attrs.seconds).toBe('0');

    alice.send(`<presence type='unavailable'><status>Off to bed</status></presence>`);
    await alice.close();
    await sleep(2100);
    const after = (await lastOf(asker, 'alice@localhost')).getChild('query', NS_LAST)!;
    expect(after.text()).toBe('Off to bed');
    expect(Number(after.attrs.seconds)).toBeGreaterThanOrEqual(2);
    expect(Number(after.attrs.seconds)).toBeLessThan(30);

    await Promise.all([...clients.splice(0).map((c) => c.stop()), ...wires.splice(0).map((w) => w.close())]);
    await ts.server.stop();
    ts = await start();
    const again = (await lastOf(await xmppjs('bob', 'xjs'), 'alice@localhost')).getChild('query', NS_LAST)!;
    expect(again.text()).toBe('Off to bed');
    expect(Number(again.attrs.seconds)).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('gives a stranger forbidden, the same for an account that exists and one that does not', async () => {
    const carol = await xmppjs('carol', 'xjs');
    const existing = await lastOf(carol, 'alice@localhost');
    const missing = await lastOf(carol, 'nobody@localhost');
    expect([existing.attrs.type, condition(existing)]).toEqual(['error', 'forbidden']);
    const shape = (r: XmlElement, who: string): string => r.toString().replace(who, 'X').replace(/id="[^"]*"/, '');
    expect(shape(missing, 'nobody@localhost')).toBe(shape(existing, 'alice@localhost'));
    expect(existing.getChild('query')?.attrs.seconds).toBeUndefined();
  });

  it('still answers the server itself with its uptime', async () => {
    const carol = await xmppjs('carol', 'xjs');
    const r = await lastOf(carol, 'localhost');
    expect(r.attrs.type).toBe('result');
    expect(Number(r.getChild('query', NS_LAST)?.attrs.seconds)).toBeLessThan(600);
  });
});
