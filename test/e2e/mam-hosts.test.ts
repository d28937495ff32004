// The message archive per host: on by default (a config without modules_enabled loads it), off
// on a VirtualHost that lists it in modules_disabled — no stanza-id, no archive queries, no
// archive features in disco — while the other host keeps archiving; and a config whose explicit
// modules_enabled leaves it out (as a Prosody config copied over does) archives nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type El, match, Wire } from '../helpers/wire.js';
import { mamQuery, NS_FORWARD, NS_MAM, NS_SID, stanzaIdBy } from '../helpers/mam.js';
import { friends, settle } from '../helpers/contacts.js';

const PASS = 'mam-hosts-pass';
const servers: TestServer[] = [];
const clients: Wire[] = [];

afterAll(async () => {
  for (const c of clients) await c.close();
  for (const s of servers) await s.stop();
});

async function online(ts: TestServer, username: string, domain: string): Promise<Wire> {
  const w = await Wire.login({ port: ts.port, domain, username, password: PASS, resource: 'r' });
  clients.push(w);
  w.send('<presence/>');
  await w.waitFor(match('presence', { from: w.jid }));
  return w;
}

/** a writes to b; b's copy as received. */
async function exchange(a: Wire, b: Wire, text: string): Promise<El> {
  a.send(`<message to='${b.jid.split('/')[0]}' type='chat'><body>${text}</body></message>`);
  return b.waitFor((m) => m.name === 'message' && m.getChildText('body') === text);
}

/** A server with `extra` config and the users a and b, both online. */
async function pair(extra: string): Promise<[TestServer, Wire, Wire]> {
  const ts = await startTestServer({ extra });
  servers.push(ts);
  for (const u of ['a', 'b']) await ts.addUser(u, PASS);
  return [ts, await online(ts, 'a', 'localhost'), await online(ts, 'b', 'localhost')];
}

async function features(w: Wire): Promise<(string | undefined)[]> {
  const info = await w.iq(`<iq type='get' to='${w.jid.split('/')[0]}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
  return info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var);
}

describe('archiving per host', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ hosts: 'VirtualHost "localhost"\nVirtualHost "quiet.localhost"\nmodules_disabled = { "mam" }' });
    servers.push(ts);
    for (const h of ['localhost', 'quiet.localhost']) for (const u of ['a', 'b']) await ts.addUser(u, PASS, h);
  });

  it('archives where it is on by default, not on a host that disables it', async () => {
    const [a, b] = [await online(ts, 'a', 'localhost'), await online(ts, 'b', 'localhost')];
    expect((await exchange(a, b, 'kept')).getChild('stanza-id', NS_SID)?.attrs.by).toBe('b@localhost');
    expect((await mamQuery(b, {})).bodies).toEqual(['kept']);
    expect(await features(b)).toContain(NS_MAM);

    const [qa, qb] = [await online(ts, 'a', 'quiet.localhost'), await online(ts, 'b', 'quiet.localhost')];
    expect((await exchange(qa, qb, 'not kept')).getChildren('stanza-id', NS_SID)).toEqual([]);
    const q = await mamQuery(qb, {});
    expect(q.reply.attrs.type).toBe('error');
    expect(q.reply.getChild('error')!.getChild('service-unavailable')).toBeDefined();
    const f = await features(qb);
    for (const ns of [NS_MAM, 'urn:xmpp:mam:1', NS_SID]) expect(f).not.toContain(ns);
  });
});

describe('a config that lists its modules without mam', () => {
  it('archives nothing, as Prosody with the same list', async () => {
    const [, a, b] = await pair('modules_enabled = { "roster"; "disco"; "carbons" }');
    expect((await exchange(a, b, 'plain')).getChildren('stanza-id', NS_SID)).toEqual([]);
    expect((await mamQuery(b, {})).reply.attrs.type).toBe('error');
  });
});

describe('without offline storage', () => {
  it("a contact's message to an offline account is archived, and its sender gets no error (as Prosody)", async () => {
    const [ts, a, b] = await pair('modules_disabled = { "offline" }');
    await friends(a, b);
    await b.close();
    a.send("<message to='b@localhost' type='chat' id='m1'><body>while away</body></message>");
    await settle(a);
    await a.expectNothing((el) => el.name === 'message' && el.attrs.type === 'error', 300);
    // A no-store message is not archived: its sender learns it was not delivered.
    a.send("<message to='b@localhost' type='chat' id='m2'><body>not kept</body><no-store xmlns='urn:xmpp:hints'/></message>");
    const err = await a.waitFor((el) => el.name === 'message' && el.attrs.type === 'error');
    expect(err.attrs.id).toBe('m2');
    expect(err.getChild('stanza-id', NS_SID)).toBeUndefined();
    const back = await online(ts, 'b', 'localhost');
    expect((await mamQuery(back, {})).bodies).toEqual(['while away']);
  });
});

describe('between two VirtualHosts of this server', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ hosts: 'VirtualHost "localhost"\nVirtualHost "other.localhost"' });
    servers.push(ts);
    await ts.addUser('a', PASS, 'localhost');
    await ts.addUser('b', PASS, 'other.localhost');
  });

  it("archives the sender's side too; its other resource's carbon carries the sender's id, never the recipient's", async () => {
    const a = await online(ts, 'a', 'localhost');
    const a2 = await Wire.login({ port: ts.port, domain: 'localhost', username: 'a', password: PASS, resource: 'r2' });
    clients.push(a2);
    await a2.iq("<iq type='set'><enable xmlns='urn:xmpp:carbons:2'/></iq>");
    const b = await online(ts, 'b', 'other.localhost');

    const got = await exchange(a, b, 'across hosts');
    const bId = stanzaIdBy(got, 'b@other.localhost');
    expect(bId).toBeDefined();
    const carbon = await a2.waitFor((m) => m.name === 'message' && m.getChild('sent', 'urn:xmpp:carbons:2') !== undefined);
    const sentCopy = carbon.getChild('sent')!.getChild('forwarded', NS_FORWARD)!.getChild('message')!;
    expect(sentCopy.getChildText('body')).toBe('across hosts');

    const mine = await mamQuery(a, {});
    expect(mine.bodies).toEqual(['across hosts']);
    expect(stanzaIdBy(sentCopy, 'a@localhost')).toBe(mine.ids[0]);
    expect(stanzaIdBy(sentCopy, 'b@other.localhost')).toBeUndefined();
    const theirs = await mamQuery(b, {});
    expect(theirs.ids).toEqual([bId]);
  });

  it('refuses a message to a contact on the other host the sender blocked, and archives nothing', async () => {
    const a = await online(ts, 'a', 'localhost');
    await a.iq("<iq type='set'><block xmlns='urn:xmpp:blocking'><item jid='b@other.localhost'/></block></iq>");
    a.send("<message id='blk' to='b@other.localhost' type='chat'><body>blocked</body></message>");
    const err = await a.waitFor(match('message', { id: 'blk', type: 'error' }));
    expect(err.getChild('error')!.getChild('not-acceptable')).toBeDefined();
    expect((await mamQuery(a, {})).bodies).not.toContain('blocked');
  });
});

describe('default_archive_policy (an account that set no preferences)', () => {
  const prefsDefault = async (w: Wire): Promise<string | undefined> =>
    (await w.iq(`<iq type='get'><prefs xmlns='${NS_MAM}'/></iq>`)).getChild('prefs', NS_MAM)?.attrs.default;

  it('false archives nothing until the user turns it on', async () => {
    const [, a, b] = await pair('default_archive_policy = false');
    expect(await prefsDefault(b)).toBe('never');
    expect((await exchange(a, b, 'off')).getChildren('stanza-id', NS_SID)).toEqual([]);
    expect((await mamQuery(b, {})).bodies).toEqual([]);
    expect((await b.iq(`<iq type='set'><prefs xmlns='${NS_MAM}' default='always'><always/><never/></prefs></iq>`)).attrs.type).toBe('result');
    expect(stanzaIdBy(await exchange(a, b, 'on'), 'b@localhost')).toBeDefined();
    expect((await mamQuery(b, {})).bodies).toEqual(['on']);
  });

  it('"roster" archives only conversations with contacts in the roster', async () => {
    const [, a, b] = await pair('default_archive_policy = "roster"');
    expect(await prefsDefault(b)).toBe('roster');
    expect((await exchange(a, b, 'stranger')).getChildren('stanza-id', NS_SID)).toEqual([]);
    await friends(a, b);
    expect(stanzaIdBy(await exchange(a, b, 'contact'), 'b@localhost')).toBeDefined();
    expect((await mamQuery(b, {})).bodies).toEqual(['contact']);
  });
});
