// Offline messages (XEP-0160) with delay stamps (XEP-0203), against real Clove servers on
// 127.0.0.1, port 0: messages kept across a restart of a file-storage server and delivered in
// order to slixmpp; the per-account limit; what is not kept; deletion with the account.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type El, match, Wire } from '../helpers/wire.js';
import { settle, testUsers } from '../helpers/contacts.js';
import { Slixmpp, parseXml } from '../helpers/slixmpp.js';
import { MAX_OFFLINE_MESSAGES } from '../../src/modules/offline.js';

const PASS = 'offline-pass';
const NS_DELAY = 'urn:xmpp:delay';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

const condition = (el: El): string | undefined =>
  el.getChild('error')?.elements().find((e) => e.xmlns === NS_STANZAS && e.local !== 'text')?.local;

describe('offline messages across a restart (file storage, slixmpp receives)', () => {
  let dir: string;
  let ts: TestServer | undefined;
  let py: Slixmpp | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clove-offline-'));
  });

  afterAll(async () => {
    await py?.stop();
    await ts?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps chat and normal messages, then delivers them in order with <delay/> on the first presence', async () => {
    ts = await startTestServer({ storage: 'file', dir });
    await ts.addUser('alice', PASS);
    await ts.addUser('bob', PASS);
    const alice = await Wire.login({ port: ts.port, username: 'alice', password: PASS, resource: 'desk' });
    const before = Date.now();
    for (let i = 1; i <= 5; i++) alice.send(`<message to='bob@localhost' type='chat' id='m${i}'><body>offline ${i}</body></message>`);
    alice.send(`<message to='bob@localhost' id='m6'><subject>hi</subject><body>offline 6 (normal)</body></message>`);
    // Not worth keeping, or not to be kept: no copy later. The no-store one is refused, silently
    // since alice is a stranger to bob (docs/limits.md, "What strangers are told").
    alice.send(`<message to='bob@localhost' type='chat' id='cs'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    alice.send(`<message to='bob@localhost' type='headline' id='hl'><body>news</body></message>`);
    alice.send(`<message to='bob@localhost' type='chat' id='ns'><body>ephemeral</body><no-store xmlns='urn:xmpp:hints'/></message>`);
    await settle(alice);
    const errors = alice.inbox.filter((e) => e.name === 'message' && e.attrs.type === 'error');
    expect(errors.map((e) => e.attrs.id)).toEqual([]);
    await alice.close();
    const storedBy = Date.now();
    await ts.stop();

    // A new process on the same data directory.
    ts = await startTestServer({ storage: 'file', dir });
    py = await Slixmpp.start(ts);
    await py.connect('bob', 'bob@localhost', PASS, { resource: 'phone' });
    // Nothing arrives before the client is available.
    await new Promise((r) => setTimeout(r, 200));
    expect(py.proc.lines.filter((l) => l.event === 'in' && l.client === 'bob' && String(l.xml).startsWith('<message'))).toEqual([]);
    await py.call('presence', { name: 'bob' });
    await py.waitFor('bob', (el) => el.name === 'message' && el.getChildText('body') === 'offline 6 (normal)', 'the last offline message');
    const got = py.proc.lines
      .filter((l) => l.event === 'in' && l.client === 'bob' && String(l.xml).startsWith('<message'))
      .map((l) => parseXml(String(l.xml)));
    expect(got.map((m) => m.getChildText('body'))).toEqual(['offline 1', 'offline 2', 'offline 3', 'offline 4', 'offline 5', 'offline 6 (normal)']);
    let last = 0;
    for (const m of got) {
      expect(m.attrs.from).toBe('alice@localhost/desk');
      const delay = m.getChild('delay', NS_DELAY);
      expect(delay?.attrs.from, m.toString()).toBe('localhost');
      const stamp = Date.parse(delay?.attrs.stamp ?? '');
      expect(delay?.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(stamp).toBeGreaterThanOrEqual(before - 1000);
      expect(stamp).toBeLessThanOrEqual(storedBy);
      expect(stamp).toBeGreaterThanOrEqual(last);
      last = stamp;
    }
    expect(got[5]?.attrs.type).toBeUndefined();

    // Delivered once: the store is empty now, also for the next login.
    const again = await Wire.login({ port: ts.port, username: 'bob', password: PASS, resource: 'laptop' });
    again.send('<presence/>');
    await again.expectNothing(match('message'), 400);
    await again.close();
    expect(await ts.server.storage.keyval('localhost', 'offline').get('bob')).toBeUndefined();
  });
});

/** A memory-storage server with sender and carol (and `more`); carol shares her presence with
 * sender: a contact is told when her storage is full (a stranger's message would be dropped
 * silently, see attack-enumeration.test.ts). */
async function limitsServer(extra: string, more: string[] = []): Promise<TestServer> {
  const ts = await startTestServer({ extra });
  for (const u of ['sender', 'carol', ...more]) await ts.addUser(u, PASS);
  await ts.server.storage.keyval('localhost', 'roster').set('carol', { version: 1, items: { 'sender@localhost': { subscription: 'from', groups: [] } }, pending: {} });
  return ts;
}

describe('offline storage limits and rules (memory storage)', () => {
  let ts: TestServer;
  const { open, login } = testUsers(() => ts, PASS);

  beforeAll(async () => {
    // Offline storage alone: with the message archive on, a message past the limit is archived
    // and its sender gets no error (the last describe below).
    ts = await limitsServer('modules_disabled = { "mam" }', ['dave', 'erin']);
  });

  afterAll(async () => {
    for (const c of open) await c.close();
    await ts?.stop();
  });

  it('advertises msgoffline on the host', async () => {
    const c = await login('sender', 'disco');
    const info = await c.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const features = info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var);
    expect(features).toContain('msgoffline');
  });

  it(`keeps ${MAX_OFFLINE_MESSAGES} messages per account, then answers service-unavailable with a reason`, async () => {
    const s = await login('sender', 'flood');
    for (let i = 1; i <= MAX_OFFLINE_MESSAGES + 2; i++) s.send(`<message to='carol@localhost' type='chat' id='f${i}'><body>n${i}</body></message>`);
    // 502 stored one by one (each rewrites the list): a loaded machine needs more than settle()'s 3 s.
    await s.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`, 20_000);
    const errors = s.inbox.filter((e) => e.name === 'message' && e.attrs.type === 'error');
    expect(errors.map((e) => e.attrs.id)).toEqual([`f${MAX_OFFLINE_MESSAGES + 1}`, `f${MAX_OFFLINE_MESSAGES + 2}`]);
    const err = errors[0] as El;
    expect(condition(err)).toBe('service-unavailable');
    expect(err.getChild('error')?.getChildText('text', NS_STANZAS)).toMatch(/offline/);
    expect(err.attrs.from).toBe('carol@localhost');
    // The refused one changed nothing: carol gets exactly the first MAX, in order.
    const carol = await login('carol', 'home');
    carol.send('<presence/>');
    const last = await carol.waitFor(match('message', {}, (m) => m.getChildText('body') === `n${MAX_OFFLINE_MESSAGES}`), 10_000);
    expect(last.getChild('delay', NS_DELAY)?.attrs.from).toBe('localhost');
    const bodies = carol.received.filter((e) => e.name === 'message').map((m) => m.getChildText('body'));
    expect(bodies).toEqual(Array.from({ length: MAX_OFFLINE_MESSAGES }, (_, i) => `n${i + 1}`));
    // And room again now that they were delivered.
    await carol.close();
    s.clear();
    s.send(`<message to='carol@localhost' type='chat' id='again'><body>room again</body></message>`);
    await settle(s);
    expect(s.inbox.filter((e) => e.name === 'message')).toEqual([]);
  });

  it('a negative priority gets nothing; a live message waits behind the stored ones', async () => {
    const s = await login('sender', 'live');
    s.send(`<message to='dave@localhost' type='chat'><body>stored 1</body></message>`);
    s.send(`<message to='dave@localhost' type='chat'><body>stored 2</body></message>`);
    await settle(s);
    const shy = await login('dave', 'shy');
    shy.send('<presence><priority>-1</priority></presence>');
    await shy.expectNothing(match('message'), 300);
    const dave = await login('dave', 'main');
    dave.send('<presence/>');
    s.send(`<message to='dave@localhost' type='chat'><body>live</body></message>`);
    await dave.waitFor(match('message', {}, (m) => m.getChildText('body') === 'live'));
    const bodies = dave.received.filter((e) => e.name === 'message').map((m) => m.getChildText('body'));
    expect(bodies).toEqual(['stored 1', 'stored 2', 'live']);
    await shy.expectNothing(match('message', {}, (m) => m.getChildText('body')?.startsWith('stored') === true), 100);
  });

  it("'user-deleted' removes what was kept", async () => {
    const s = await login('sender', 'del');
    s.send(`<message to='erin@localhost' type='chat'><body>for erin</body></message>`);
    await settle(s);
    const store = ts.server.storage.keyval('localhost', 'offline');
    expect(await store.get('erin')).toHaveLength(1);
    await ts.server.hosts.get('localhost')!.events.fire('user-deleted', { host: 'localhost', username: 'erin' });
    expect(await store.get('erin')).toBeUndefined();
  });
});

describe('offline storage full, message archive on', () => {
  let ts: TestServer;
  const { open, login } = testUsers(() => ts, PASS);
  beforeAll(async () => { ts = await limitsServer(''); });
  afterAll(async () => {
    for (const c of open) await c.close();
    await ts?.stop();
  });

  it('a message past the limit is archived, and its sender gets no error carrying the archive id (as Prosody with mod_mam)', async () => {
    const s = await login('sender', 'flood');
    for (let i = 1; i <= MAX_OFFLINE_MESSAGES + 1; i++) s.send(`<message to='carol@localhost' type='chat' id='f${i}'><body>n${i}</body></message>`);
    await s.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`, 20_000);
    expect(s.inbox.filter((e) => e.name === 'message' && e.attrs.type === 'error')).toEqual([]);
    const carol = await login('carol', 'home');
    const q = await carol.iq(`<iq type='set'><query xmlns='urn:xmpp:mam:2' queryid='x'><set xmlns='http://jabber.org/protocol/rsm'><max>1</max><before/></set></query></iq>`);
    expect(q.getChild('fin')?.getChild('set')?.getChildText('count')).toBe(String(MAX_OFFLINE_MESSAGES + 1));
    const last = carol.inbox.find((e) => e.name === 'message' && e.getChild('result')?.attrs.queryid === 'x');
    expect(last?.getChild('result')?.getChild('forwarded')?.getChild('message')?.getChildText('body')).toBe(`n${MAX_OFFLINE_MESSAGES + 1}`);
  });
});
