// Stream management (XEP-0198) end to end over raw sockets: enabling, acks both ways, a dropped
// connection that hibernates while a contact keeps writing, resumption that redelivers every
// unacknowledged message once and in order, a resume that fails cleanly, the hibernation
// timeout (contacts see unavailable, messages go to offline storage), a clean close, and Pidgin's
// sequence (<enable/> after the bind result, the session iq, then <r/>).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type El, match, Wire } from '../helpers/wire.js';
import { friends, settle, testUsers } from '../helpers/contacts.js';

const NS_SM = 'urn:xmpp:sm:3';
const PASS = 'sm-pass';
/** Hibernation in these tests: short, so the timeout test stays fast. */
const MAX = 2;
let ts: TestServer;
const { open, account, login, closeAll } = testUsers(() => ts, PASS);

beforeAll(async () => {
  ts = await startTestServer({ extra: `smacks_hibernation_time = ${MAX}` });
});
afterAll(async () => {
  await ts?.stop();
});
afterEach(closeAll);

const sm = (name: string, attrs: Record<string, string | null> = {}) => match(name, attrs, (el) => el.xmlns === NS_SM);
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Authenticated, not bound: where <resume/> is sent. */
async function authenticated(name: string): Promise<Wire> {
  const c = await Wire.open({ port: ts.port });
  open.push(c);
  await c.startTls();
  await c.authenticate(name, PASS);
  return c;
}

/** Enable with resumption; returns the id. */
async function enable(c: Wire): Promise<string> {
  c.send(`<enable xmlns='${NS_SM}' resume='true'/>`);
  const enabled = await c.waitFor(sm('enabled'));
  expect(enabled.attrs).toMatchObject({ resume: 'true', max: String(MAX) });
  expect(enabled.attrs.id).toBeTruthy();
  return enabled.attrs.id as string;
}

/** Stanzas the client received after <enabled/> (what its h counts). */
function stanzasSinceEnabled(c: Wire): El[] {
  const i = c.received.findIndex((e) => e.name === 'enabled');
  return c.received.slice(i + 1).filter((e) => ['message', 'presence', 'iq'].includes(e.name));
}

const chat = (to: string, body: string) => `<message to='${to}' type='chat' id='${body}'><body>${body}</body></message>`;
const bodies = (els: El[]) => els.map((e) => e.getChildText('body'));

describe('XEP-0198 stream management', () => {
  it('is offered after auth; <enable/> gets <enabled/>; <r/> gets the count of handled stanzas; the server asks for acks', async () => {
    const c = await login(await account('count'));
    expect(c.features?.getChild('sm', NS_SM)).toBeDefined();
    await enable(c);
    for (let i = 0; i < 3; i++) await settle(c);
    c.send(`<r xmlns='${NS_SM}'/>`);
    expect((await c.waitFor(sm('a'))).attrs.h).toBe('3');
    c.send(`<a xmlns='${NS_SM}' h='3'/>`);
    // Five more unacknowledged stanzas: the server asks.
    for (let i = 0; i < 5; i++) await settle(c);
    await c.waitFor(sm('r'));
    c.send(`<a xmlns='${NS_SM}' h='8'/>`);
    await settle(c);
    // A second <enable/> is refused; the stream goes on.
    c.send(`<enable xmlns='${NS_SM}'/>`);
    await c.waitFor(sm('failed'));
    await settle(c);
    // Acknowledging more than was sent is a stream error (XEP-0198 §4).
    c.send(`<a xmlns='${NS_SM}' h='1000'/>`);
    await c.waitFor(match('nothing'), 2000).catch(() => undefined);
    expect(c.closed).toBe(true);
    expect((await c.streamError()).el.getChild('undefined-condition')).toBeDefined();
  });

  it('a dropped connection hibernates; resuming redelivers every unacknowledged message once, in order', async () => {
    const alice = await login(await account('alice'));
    const bob = await login(await account('bob'));
    await friends(alice, bob);
    const id = await enable(alice);
    await settle(alice); // one stanza handled: the resumed h says 1
    const before = stanzasSinceEnabled(alice).length;
    bob.send(chat(alice.jid, 'm1'));
    await alice.waitFor(match('message', { id: 'm1' }));
    // The connection drops without </stream:stream>; m1 was never acknowledged.
    alice.destroy();
    await delay(100);
    for (const b of ['m2', 'm3', 'm4']) bob.send(chat(alice.jid, b));
    await settle(bob);
    // Alice looks online to her contacts all along.
    await bob.expectNothing(match('presence', { from: alice.jid, type: 'unavailable' }), 300);

    const again = await authenticated(alice.jid.split('@')[0] as string);
    expect(again.features?.getChild('sm', NS_SM)).toBeDefined();
    // Alice got `before` stanzas and m1, but says she got only `before` (m1 was lost on the way).
    again.send(`<resume xmlns='${NS_SM}' previd='${id}' h='${before}'/>`);
    const resumed = await again.waitFor(sm('resumed'));
    expect(resumed.attrs).toMatchObject({ previd: id, h: '1' });
    const got = await again.collect(match('message', { from: bob.jid }), 400);
    expect(bodies(got)).toEqual(['m1', 'm2', 'm3', 'm4']);
    // Same session, new socket: it goes on.
    bob.send(chat(alice.jid, 'm5'));
    await again.waitFor(match('message', { id: 'm5' }));
    await settle(again);
    again.send(`<r xmlns='${NS_SM}'/>`);
    expect((await again.waitFor(sm('a'))).attrs.h).toBe('2');
    await bob.expectNothing(match('presence', { from: alice.jid, type: 'unavailable' }), 100);
  });

  it('resuming while the old connection still looks open takes the session over; the old stream gets conflict', async () => {
    const aliceName = await account('alice');
    const alice = await login(aliceName);
    const bob = await login(await account('bob'));
    await friends(alice, bob);
    const id = await enable(alice);
    const before = stanzasSinceEnabled(alice).length;
    bob.send(chat(alice.jid, 'k1'));
    await alice.waitFor(match('message', { id: 'k1' }));
    const again = await authenticated(aliceName);
    again.send(`<resume xmlns='${NS_SM}' previd='${id}' h='${before}'/>`);
    await again.waitFor(sm('resumed'));
    expect(bodies(await again.collect(match('message', { from: bob.jid }), 200))).toEqual(['k1']);
    await alice.waitFor(match('nothing'), 1000).catch(() => undefined);
    expect((await alice.streamError()).el.getChild('conflict')).toBeDefined();
    await bob.expectNothing(match('presence', { from: alice.jid, type: 'unavailable' }), 200);
    await settle(again);
  });

  it('a session replaced by a new bind of its resource cannot be resumed', async () => {
    const aliceName = await account('alice');
    const alice = await login(aliceName, 'same');
    const id = await enable(alice);
    const other = await login(aliceName, 'same');
    await alice.waitFor(match('nothing'), 1000).catch(() => undefined);
    expect((await alice.streamError()).el.getChild('conflict')).toBeDefined();
    const again = await authenticated(aliceName);
    again.send(`<resume xmlns='${NS_SM}' previd='${id}' h='0'/>`);
    expect((await again.waitFor(sm('failed'))).getChild('item-not-found')).toBeDefined();
    await settle(other);
  });

  it('a resume with a wrong id or for another account fails cleanly, and bind works after it', async () => {
    const aliceName = await account('alice');
    const alice = await login(aliceName);
    const id = await enable(alice);
    const carolName = await account('carol');
    const carol = await authenticated(carolName);
    carol.send(`<resume xmlns='${NS_SM}' previd='no-such-id' h='0'/>`);
    const f1 = await carol.waitFor(sm('failed'));
    expect(f1.getChild('item-not-found')).toBeDefined();
    carol.send(`<resume xmlns='${NS_SM}' previd='${id}' h='0'/>`);
    const f2 = await carol.waitFor(sm('failed'));
    expect(f2.getChild('item-not-found')).toBeDefined();
    expect(await carol.bind('phone')).toBe(`${carolName}@localhost/phone`);
    await settle(carol);
    // Alice's session was not touched.
    await settle(alice);
  });

  it('after the timeout the session ends: contacts see unavailable, unacknowledged messages go to offline storage', async () => {
    const aliceName = await account('alice');
    const alice = await login(aliceName);
    const bob = await login(await account('bob'));
    await friends(alice, bob);
    await enable(alice);
    bob.send(chat(alice.jid, 't1'));
    await alice.waitFor(match('message', { id: 't1' }));
    const jid = alice.jid;
    alice.destroy();
    await delay(100);
    bob.send(chat(jid, 't2'));
    await settle(bob);
    await bob.waitFor(match('presence', { from: jid, type: 'unavailable' }), (MAX + 2) * 1000);
    // Next login: both messages, in order, from offline storage (with <delay/>), once.
    const back = await login(aliceName, 'other');
    back.send('<presence/>');
    const got = await back.collect(match('message', { from: bob.jid }), 500);
    expect(bodies(got)).toEqual(['t1', 't2']);
    for (const m of got) expect(m.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
  });

  it('a clean </stream:stream> ends the session at once (no hibernation)', async () => {
    const alice = await login(await account('alice'));
    const bob = await login(await account('bob'));
    await friends(alice, bob);
    await enable(alice);
    const jid = alice.jid;
    await alice.close();
    await bob.waitFor(match('presence', { from: jid, type: 'unavailable' }), 1000);
  });

  it("Pidgin's sequence: <enable/> after the bind result, the session iq, <r/>", async () => {
    const c = await login(await account('pidgin'));
    c.send(`<enable xmlns='${NS_SM}'/>`);
    const enabled = await c.waitFor(sm('enabled'));
    expect(enabled.attrs.id).toBeUndefined();
    c.send(`<iq type='set' id='sess'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`);
    c.send(`<r xmlns='${NS_SM}'/>`);
    const result = await c.waitFor(match('iq', { id: 'sess' }));
    expect(result.attrs.type).toBe('result');
    const a = await c.waitFor(sm('a'));
    expect(a.attrs.h).toBe('1');
    // The <a/> comes after the session result.
    expect(c.received.indexOf(a)).toBeGreaterThan(c.received.indexOf(result));
    // Not resumable: a lost connection ends the session at once.
    const bob = await login(await account('bob'));
    await friends(c, bob);
    const jid = c.jid;
    c.destroy();
    await bob.waitFor(match('presence', { from: jid, type: 'unavailable' }), 1000);
  });
});

describe('XEP-0198 at shutdown', () => {
  it('a hibernating session ends when the server stops: its unacknowledged messages wait in offline storage for the restart', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'clove-smacks-stop-'));
    const extra = 'smacks_hibernation_time = 300';
    let first: TestServer | undefined = await startTestServer({ dir, storage: 'file', extra });
    try {
      await first.addUser('hana', PASS);
      await first.addUser('ivan', PASS);
      const hana = await Wire.login({ port: first.port, username: 'hana', password: PASS, resource: 'r' });
      const ivan = await Wire.login({ port: first.port, username: 'ivan', password: PASS, resource: 'r' });
      hana.send(`<enable xmlns='${NS_SM}' resume='true'/>`);
      await hana.waitFor(sm('enabled'));
      const jid = hana.jid;
      hana.destroy(); // lost, not closed: it hibernates for five minutes
      await delay(100);
      ivan.send(chat(jid, 's1'));
      await ivan.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await first.stop();
      first = undefined;
      ivan.destroy();

      const second = await startTestServer({ dir, storage: 'file', extra });
      try {
        const back = await Wire.login({ port: second.port, username: 'hana', password: PASS, resource: 'again' });
        back.send('<presence/>');
        const got = await back.collect(match('message', { id: 's1' }), 1000);
        expect(bodies(got)).toEqual(['s1']);
        await back.close();
      } finally {
        await second.stop();
      }
    } finally {
      await first?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
