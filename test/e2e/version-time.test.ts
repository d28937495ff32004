// Software version (XEP-0092), entity time (XEP-0202) and uptime (XEP-0012) of the server,
// end to end with the raw client and xmpp.js: the OS is hidden unless the config says otherwise,
// time is UTC only, and uptime answers only when enabled.
import { readFile } from 'node:fs/promises';
import { type as osType } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type El, Wire } from '../helpers/wire.js';
import { connectXmppjs, xml, type XmppjsClient } from '../helpers/xmppjs.js';
import { PythonProcess } from '../helpers/slixmpp.js';

const NS_VERSION = 'jabber:iq:version';
const NS_TIME = 'urn:xmpp:time';
const NS_LAST = 'jabber:iq:last';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const PASS = 'version-time-pass';

const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const condition = (iq: El): string | undefined => iq.getChild('error')?.elements().find((e) => e.xmlns === NS_STANZAS)?.name;

const servers: TestServer[] = [];
const clients: Wire[] = [];

async function server(extra = ''): Promise<TestServer> {
  const ts = await startTestServer({ extra });
  servers.push(ts);
  await ts.addUser('alice', PASS);
  return ts;
}

async function login(ts: TestServer): Promise<Wire> {
  const c = await Wire.login({ port: ts.port, username: 'alice', password: PASS, resource: 'r' });
  clients.push(c);
  return c;
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.stop()));
});

describe('software version (XEP-0092)', () => {
  it('names Clove and its package version, and hides the OS by default', async () => {
    const ts = await server();
    const c = await login(ts);
    const r = await c.iq(`<iq type='get' to='localhost'><query xmlns='${NS_VERSION}'/></iq>`);
    expect(r.attrs.type, r.toString()).toBe('result');
    expect(r.attrs.from).toBe('localhost');
    const q = r.getChild('query', NS_VERSION)!;
    expect(q.getChildText('name')).toBe('Clove');
    expect(q.getChildText('version')).toBe(pkg.version);
    expect(q.getChild('os')).toBeUndefined();
    // Only name and version: nothing else about the host.
    expect(q.elements().map((e) => e.name)).toEqual(['name', 'version']);

    const info = await c.iq(`<iq type='get' to='localhost'><query xmlns='${NS_DISCO_INFO}'/></iq>`);
    const features = info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
    expect(features).toContain(NS_VERSION);
    expect(features).toContain(NS_TIME);
    // Uptime is off by default: it would tell when the server last started.
    expect(features).not.toContain(NS_LAST);
  });

  it('shows the OS name, and only the name, with hide_os_type = false', async () => {
    const ts = await server('hide_os_type = false');
    const c = await login(ts);
    const r = await c.iq(`<iq type='get' to='localhost'><query xmlns='${NS_VERSION}'/></iq>`);
    expect(r.getChild('query')!.getChildText('os')).toBe(osType());
  });

  it('answers xmpp.js too', async () => {
    const ts = await server();
    let c: XmppjsClient | undefined;
    try {
      c = await connectXmppjs(ts, { username: 'alice', password: PASS });
      const r = await c.iq(xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: NS_VERSION })));
      expect(r.attrs.type).toBe('result');
      expect(r.getChild('query', NS_VERSION)?.getChildText('name')).toBe('Clove');
      expect(r.getChild('query', NS_VERSION)?.getChild('os')).toBeUndefined();
    } finally {
      await c?.stop();
    }
  });
});

describe('entity time (XEP-0202)', () => {
  it('is UTC with offset +00:00, to the second', async () => {
    const ts = await server();
    const c = await login(ts);
    const before = Math.floor(Date.now() / 1000) * 1000;
    const r = await c.iq(`<iq type='get' to='localhost'><time xmlns='${NS_TIME}'/></iq>`);
    const after = Date.now();
    expect(r.attrs.type, r.toString()).toBe('result');
    const t = r.getChild('time', NS_TIME)!;
    expect(t.getChildText('tzo')).toBe('+00:00');
    const utc = t.getChildText('utc')!;
    expect(utc).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(utc)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(utc)).toBeLessThanOrEqual(after);
  });
});

describe("slixmpp's plugins (xep_0092, xep_0202)", () => {
  it('read the version without an OS, and UTC time', async () => {
    const ts = await server();
    const py = new PythonProcess(fileURLToPath(new URL('py/everyday.py', import.meta.url)), {
      args: ['--port', String(ts.port), '--jid', 'alice@localhost', '--password', PASS, '--what', 'version,time'],
      timeoutMs: 40_000,
    });
    try {
      const line = await py.waitLine((l) => l.event === 'result' || l.event === 'error', 'result line', 30_000);
      expect(line.event, JSON.stringify(line)).toBe('result');
      expect(line.version).toEqual({ name: 'Clove', version: pkg.version, os: '' });
      const time = line.time as { tzo: string; utc: string };
      expect(time.tzo).toBe('+00:00');
      expect(Math.abs(Date.parse(time.utc) - Date.now())).toBeLessThan(30_000);
    } finally {
      await py.finish();
    }
  });
});

describe('uptime (XEP-0012)', () => {
  it('is not answered by default', async () => {
    const ts = await server();
    const c = await login(ts);
    const r = await c.iq(`<iq type='get' to='localhost'><query xmlns='${NS_LAST}'/></iq>`);
    expect(r.attrs.type).toBe('error');
    expect(condition(r)).toBe('service-unavailable');
  });

  it('gives the seconds since start when enabled', async () => {
    const ts = await server('modules_enabled = { "roster"; "disco"; "uptime" }');
    const c = await login(ts);
    const r = await c.iq(`<iq type='get' to='localhost'><query xmlns='${NS_LAST}'/></iq>`);
    expect(r.attrs.type, r.toString()).toBe('result');
    const seconds = r.getChild('query', NS_LAST)!.attrs.seconds!;
    expect(seconds).toMatch(/^\d+$/);
    expect(Number(seconds)).toBeLessThan(60);
    const info = await c.iq(`<iq type='get' to='localhost'><query xmlns='${NS_DISCO_INFO}'/></iq>`);
    expect(info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var)).toContain(NS_LAST);
    // The explicit list did not name version or time: they are not loaded.
    const v = await c.iq(`<iq type='get' to='localhost'><query xmlns='${NS_VERSION}'/></iq>`);
    expect(condition(v)).toBe('service-unavailable');
  });
});
