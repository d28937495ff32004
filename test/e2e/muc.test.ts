// The muc component (Component "conference.localhost" "muc") end to end with the raw Wire client
// against a Clove child process (file storage): creating a room (201, locked until the instant
// config), three users joining with the status codes of XEP-0045, fan-out with occupant ids,
// private messages, subject rights, nick change and conflict, kick/ban/voice with 307/301,
// members-only and password refusals, history on rejoin, self-ping, disco, a closed session
// leaving no ghost, limits (a full room, a flood throttled with memory read from the server
// process), destroy with an alternate venue, and persistence across a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { match, Wire, type El } from '../helpers/wire.js';

const PASS = 'muc pass';
const MUC = 'conference.localhost';
const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_USER = `${NS_MUC}#user`;
const NS_ADMIN = `${NS_MUC}#admin`;
const NS_OWNER = `${NS_MUC}#owner`;
const NS_OCC = 'urn:xmpp:occupant-id:0';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const HOSTS = `VirtualHost "localhost"\nComponent "${MUC}" "muc"\n  name = "Chatrooms"\n`;
const EXTRA = 'muc_event_rate = 2\nmuc_burst_factor = 5\nmuc_room_lock_timeout = 60';

let child: ChildServer;
const open: Wire[] = [];

const codes = (el: El): number[] => el.getChild('x', NS_USER)?.getChildren('status').map((s) => Number(s.attrs.code)) ?? [];
const itemOf = (el: El): El | undefined => el.getChild('x', NS_USER)?.getChild('item');
const condition = (el: El): string | undefined => el.getChild('error')?.elements().find((e) => e.xmlns === NS_STANZAS)?.name;

async function login(user: string, resource = 'r'): Promise<Wire> {
  const w = await Wire.login({ port: child.port, username: user, password: PASS, resource, timeoutMs: 10_000 });
  open.push(w);
  return w;
}

/** Send a join and wait for the own presence (110) or the error presence from room/nick. */
async function join(w: Wire, room: string, nick: string, inner = ''): Promise<El> {
  const occ = `${room}@${MUC}/${nick}`;
  w.send(`<presence to='${occ}'><x xmlns='${NS_MUC}'>${inner}</x></presence>`);
  return w.waitFor(match('presence', { from: occ }, (p) => p.attrs.type === 'error' || codes(p).includes(110)));
}

/** The owner's empty submit: an instant room (XEP-0045 §10.1.2). */
async function instant(w: Wire, room: string): Promise<El> {
  return w.iq(`<iq type='set' to='${room}@${MUC}'><query xmlns='${NS_OWNER}'><x xmlns='jabber:x:data' type='submit'/></query></iq>`);
}

/** Submit config fields (var → value). */
async function configure(w: Wire, room: string, fields: Record<string, string>): Promise<El> {
  const f = Object.entries(fields).map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`).join('');
  return w.iq(`<iq type='set' to='${room}@${MUC}'><query xmlns='${NS_OWNER}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS_MUC}#roomconfig</value></field>${f}</x></query></iq>`);
}

async function admin(w: Wire, room: string, item: string): Promise<El> {
  return w.iq(`<iq type='set' to='${room}@${MUC}'><query xmlns='${NS_ADMIN}'>${item}</query></iq>`);
}

const groupchat = (room: string, body: string, id = body): string => `<message to='${room}@${MUC}' type='groupchat' id='${id}'><body>${body}</body></message>`;
const fromRoom = (room: string, nick: string, body: string) => match('message', { from: `${room}@${MUC}/${nick}`, type: 'groupchat' }, (m) => m.getChildText('body') === body);

describe('the muc component with a raw client (XEP-0045)', () => {
  beforeAll(async () => {
    child = await startChild({ extra: EXTRA, hosts: HOSTS });
    await addUsers(child.configPath, ['alice', 'bob', 'carol', 'dave', 'eve'].map((u) => [`${u}@localhost`, PASS] as [string, string]));
  }, 60_000);

  afterAll(async () => {
    for (const w of open) w.destroy();
    await child?.kill().then(() => removeChildDir(child.dir));
  });

  it('creates a locked room (110, 201) that others cannot enter until the owner accepts the instant config', async () => {
    const alice = await login('alice');
    const bob = await login('bob');
    const self = await join(alice, 'lobby', 'Alice');
    expect(codes(self)).toEqual([110, 201]);
    expect(itemOf(self)?.attrs).toMatchObject({ affiliation: 'owner', role: 'moderator', jid: 'alice@localhost/r' });
    expect(self.getChild('occupant-id', NS_OCC)?.attrs.id).toMatch(/^[A-Za-z0-9+/=]{20,}$/);
    // The subject (empty) closes the join, as clients expect.
    await alice.waitFor(match('message', { from: `lobby@${MUC}`, type: 'groupchat' }, (m) => m.getChild('subject') !== undefined));
    const refused = await join(bob, 'lobby', 'Bob');
    expect(refused.attrs.type).toBe('error');
    expect(condition(refused)).toBe('item-not-found');
    expect((await instant(alice, 'lobby')).attrs.type).toBe('result');
    expect(codes(await join(bob, 'lobby', 'Bob'))).toEqual([110]);
  });

  it('three users: presence of everyone to the newcomer, real JIDs for moderators only, fan-out with occupant ids, private messages', async () => {
    const [alice, bob] = open as [Wire, Wire];
    const carol = await login('carol');
    const selfCarol = await join(carol, 'lobby', 'Carol');
    // Carol (a participant of a semi-anonymous room) saw the others without their real JIDs.
    const seen = carol.received.filter((e) => e.name === 'presence' && (e.attrs.from ?? '').startsWith(`lobby@${MUC}/`) && e !== selfCarol);
    expect(seen.map((p) => p.attrs.from).sort()).toEqual([`lobby@${MUC}/Alice`, `lobby@${MUC}/Bob`]);
    expect(seen.every((p) => itemOf(p)?.attrs.jid === undefined)).toBe(true);
    // Alice, a moderator, sees Carol's real JID.
    const toAlice = await alice.waitFor(match('presence', { from: `lobby@${MUC}/Carol` }));
    expect(itemOf(toAlice)?.attrs).toMatchObject({ jid: 'carol@localhost/r', role: 'participant', affiliation: 'none' });

    bob.send(groupchat('lobby', 'hello room'));
    const got = await Promise.all([alice, bob, carol].map((w) => w.waitFor(fromRoom('lobby', 'Bob', 'hello room'))));
    const ids = got.map((m) => m.getChild('occupant-id', NS_OCC)?.attrs.id);
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).not.toContain('bob');

    carol.send(`<message to='lobby@${MUC}/Bob' type='chat' id='pm1'><body>psst</body></message>`);
    const pm = await bob.waitFor(match('message', { from: `lobby@${MUC}/Carol`, type: 'chat' }));
    expect(pm.getChildText('body')).toBe('psst');
    expect(pm.getChild('x', NS_USER)).toBeDefined();
    await alice.expectNothing(match('message', { id: 'pm1' }), 300);
    // A private message to nobody, and groupchat to an occupant JID, are refused.
    carol.send(`<message to='lobby@${MUC}/Nobody' type='chat' id='pm2'><body>?</body></message>`);
    expect(condition(await carol.waitFor(match('message', { id: 'pm2', type: 'error' })))).toBe('item-not-found');
    carol.send(`<message to='lobby@${MUC}/Bob' type='groupchat' id='pm3'><body>?</body></message>`);
    expect(condition(await carol.waitFor(match('message', { id: 'pm3', type: 'error' })))).toBe('bad-request');
  });

  it('subject: participants may not change it while changesubject is off, moderators may; everyone and newcomers see it', async () => {
    const [alice, bob, carol] = open as [Wire, Wire, Wire];
    bob.send(`<message to='lobby@${MUC}' type='groupchat' id='s1'><subject>mine</subject></message>`);
    expect(condition(await bob.waitFor(match('message', { id: 's1', type: 'error' })))).toBe('forbidden');
    alice.send(`<message to='lobby@${MUC}' type='groupchat' id='s2'><subject>Welcome</subject></message>`);
    const s = await carol.waitFor(match('message', { from: `lobby@${MUC}/Alice` }, (m) => m.getChildText('subject') === 'Welcome'));
    expect(s.getChild('body')).toBeUndefined();
    // Oversized subject: not-acceptable, the old one stays.
    alice.send(`<message to='lobby@${MUC}' type='groupchat' id='s3'><subject>${'x'.repeat(5000)}</subject></message>`);
    expect(condition(await alice.waitFor(match('message', { id: 's3', type: 'error' })))).toBe('not-acceptable');
    const info = await carol.iq(`<iq type='get' to='lobby@${MUC}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const subjectField = info.getChild('query')?.getChild('x', 'jabber:x:data')?.getChildren('field').find((f) => f.attrs.var === 'muc#roominfo_subject');
    expect(subjectField?.getChildText('value')).toBe('Welcome');
  });

  it('nick change: 303 then the new nick; a taken nick is a conflict (409)', async () => {
    const [alice, bob, carol] = open as [Wire, Wire, Wire];
    carol.send(`<presence to='lobby@${MUC}/Bob'/>`);
    const conflict = await carol.waitFor(match('presence', { from: `lobby@${MUC}/Bob`, type: 'error' }));
    expect(condition(conflict)).toBe('conflict');
    carol.send(`<presence to='lobby@${MUC}/Caroline'/>`);
    const gone = await bob.waitFor(match('presence', { from: `lobby@${MUC}/Carol`, type: 'unavailable' }));
    expect(codes(gone)).toEqual([303]);
    expect(itemOf(gone)?.attrs.nick).toBe('Caroline');
    const selfGone = await carol.waitFor(match('presence', { from: `lobby@${MUC}/Carol`, type: 'unavailable' }));
    expect(codes(selfGone)).toEqual([110, 303]);
    await alice.waitFor(match('presence', { from: `lobby@${MUC}/Caroline` }, (p) => p.attrs.type === undefined));
    carol.send(groupchat('lobby', 'renamed'));
    await bob.waitFor(fromRoom('lobby', 'Caroline', 'renamed'));
  });

  it('self-ping (XEP-0410) answers joined occupants and refuses others; disco shows the room and its features', async () => {
    const [, bob] = open as [Wire, Wire];
    const pong = await bob.iq(`<iq type='get' to='lobby@${MUC}/Bob'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(pong.attrs.type).toBe('result');
    const dave = await login('dave');
    const notJoined = await dave.iq(`<iq type='get' to='lobby@${MUC}/Bob'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(condition(notJoined)).toBe('not-acceptable');
    const items = await dave.iq(`<iq type='get' to='${MUC}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    expect(items.getChild('query')?.getChildren('item').map((i) => i.attrs.jid)).toContain(`lobby@${MUC}`);
    const info = await dave.iq(`<iq type='get' to='lobby@${MUC}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const features = info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var) ?? [];
    expect(features).toEqual(expect.arrayContaining([NS_MUC, 'muc_public', 'muc_temporary', 'muc_open', 'muc_unmoderated', 'muc_unsecured', 'muc_semianonymous', NS_OCC]));
    const svc = await dave.iq(`<iq type='get' to='${MUC}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(svc.getChild('query')?.getChild('identity')?.attrs).toMatchObject({ category: 'conference', type: 'text', name: 'Chatrooms' });
  });

  it('moderation: kick (307), revoke and grant voice in a moderated room, ban (301) and the ban list', async () => {
    const [alice, bob, carol] = open as [Wire, Wire, Wire];
    expect((await configure(alice, 'lobby', { 'muc#roomconfig_moderatedroom': '1' })).attrs.type).toBe('result');
    // A config change is announced with 104.
    await bob.waitFor(match('message', { from: `lobby@${MUC}` }, (m) => codes(m).includes(104)));
    // A participant cannot kick.
    expect(condition(await bob.iq(`<iq type='set' to='lobby@${MUC}'><query xmlns='${NS_ADMIN}'><item nick='Caroline' role='none'/></query></iq>`))).toBe('forbidden');
    // Revoke voice: Caroline becomes a visitor and may no longer speak.
    expect((await admin(alice, 'lobby', `<item nick='Caroline' role='visitor'><reason>quiet</reason></item>`)).attrs.type).toBe('result');
    const demoted = await carol.waitFor(match('presence', { from: `lobby@${MUC}/Caroline` }, (p) => itemOf(p)?.attrs.role === 'visitor'));
    expect(itemOf(demoted)?.getChildText('reason')).toBe('quiet');
    carol.send(groupchat('lobby', 'can I?', 'v1'));
    expect(condition(await carol.waitFor(match('message', { id: 'v1', type: 'error' })))).toBe('forbidden');
    expect((await admin(alice, 'lobby', `<item nick='Caroline' role='participant'/>`)).attrs.type).toBe('result');
    await carol.waitFor(match('presence', { from: `lobby@${MUC}/Caroline` }, (p) => itemOf(p)?.attrs.role === 'participant'));
    // Kick: 307 to everyone, with the actor and reason.
    expect((await admin(alice, 'lobby', `<item nick='Caroline' role='none'><reason>bye</reason></item>`)).attrs.type).toBe('result');
    const kicked = await carol.waitFor(match('presence', { from: `lobby@${MUC}/Caroline`, type: 'unavailable' }));
    expect(codes(kicked)).toEqual([110, 307]);
    expect(itemOf(kicked)?.getChild('actor')?.attrs.nick).toBe('Alice');
    expect(codes(await bob.waitFor(match('presence', { from: `lobby@${MUC}/Caroline`, type: 'unavailable' })))).toEqual([307]);
    // Ban: Carol may not come back (forbidden); the ban list names her.
    expect(codes(await join(carol, 'lobby', 'Carol'))).toEqual([110]);
    expect((await admin(alice, 'lobby', `<item jid='carol@localhost' affiliation='outcast'><reason>spam</reason></item>`)).attrs.type).toBe('result');
    const banned = await carol.waitFor(match('presence', { from: `lobby@${MUC}/Carol`, type: 'unavailable' }));
    expect(codes(banned)).toEqual([110, 301]);
    expect(itemOf(banned)?.attrs.affiliation).toBe('outcast');
    expect(condition(await join(carol, 'lobby', 'Carol'))).toBe('forbidden');
    const list = await alice.iq(`<iq type='get' to='lobby@${MUC}'><query xmlns='${NS_ADMIN}'><item affiliation='outcast'/></query></iq>`);
    expect(list.getChild('query')?.getChildren('item').map((i) => i.attrs.jid)).toEqual(['carol@localhost']);
    // Only an owner may make an admin, and the last owner cannot step down.
    expect(condition(await admin(bob, 'lobby', `<item jid='bob@localhost' affiliation='admin'/>`))).toBe('forbidden');
    expect(condition(await admin(alice, 'lobby', `<item jid='alice@localhost' affiliation='member'/>`))).toBe('conflict');
  });

  it('members-only and password rooms refuse with registration-required and not-authorized; a wrong user cannot configure', async () => {
    const [alice, bob] = open as [Wire, Wire];
    const dave = open[3] as Wire;
    await join(alice, 'club', 'Alice');
    expect((await configure(alice, 'club', { 'muc#roomconfig_membersonly': '1' })).attrs.type).toBe('result');
    expect(condition(await join(dave, 'club', 'Dave'))).toBe('registration-required');
    expect((await admin(alice, 'club', `<item jid='dave@localhost' affiliation='member'/>`)).attrs.type).toBe('result');
    expect(codes(await join(dave, 'club', 'Dave'))).toEqual([110]);
    // Nothing half-stored: a non-owner's config attempt is refused.
    expect(condition(await configure(dave, 'club', { 'muc#roomconfig_membersonly': '0' }))).toBe('forbidden');

    await join(alice, 'vault', 'Alice');
    expect((await configure(alice, 'vault', { 'muc#roomconfig_passwordprotectedroom': '1', 'muc#roomconfig_roomsecret': 'sesame' })).attrs.type).toBe('result');
    expect(condition(await join(bob, 'vault', 'Bob'))).toBe('not-authorized');
    expect(condition(await join(bob, 'vault', 'Bob', '<password>wrong</password>'))).toBe('not-authorized');
    expect(codes(await join(bob, 'vault', 'Bob', '<password>sesame</password>'))).toEqual([110]);
    const info = await bob.iq(`<iq type='get' to='vault@${MUC}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var)).toContain('muc_passwordprotected');
  });

  it('history on join honours maxstanzas and maxchars, oldest first with delay stamps', async () => {
    const [alice] = open as [Wire];
    const eve = await login('eve');
    await join(alice, 'chatter', 'Alice');
    await instant(alice, 'chatter');
    for (const n of [1, 2, 3]) {
      alice.send(groupchat('chatter', `history ${n}`));
      await alice.waitFor(fromRoom('chatter', 'Alice', `history ${n}`));
    }
    await join(eve, 'chatter', 'Eve', `<history maxstanzas='2'/>`);
    const subject = await eve.waitFor(match('message', { from: `chatter@${MUC}` }, (m) => m.getChild('subject') !== undefined));
    const history = eve.received.filter((m) => m.name === 'message' && m.attrs.from === `chatter@${MUC}/Alice`);
    expect(history.map((m) => m.getChildText('body'))).toEqual(['history 2', 'history 3']);
    expect(history.every((m) => m.getChild('delay', 'urn:xmpp:delay')?.attrs.from === `chatter@${MUC}`)).toBe(true);
    expect(eve.received.indexOf(subject)).toBeGreaterThan(eve.received.indexOf(history[1] as El));
    eve.send(`<presence to='chatter@${MUC}/Eve' type='unavailable'/>`);
    await eve.waitFor(match('presence', { from: `chatter@${MUC}/Eve`, type: 'unavailable' }));
    await join(eve, 'chatter', 'Eve2', `<history maxchars='0'/>`);
    await eve.expectNothing(match('message', { from: `chatter@${MUC}/Alice` }, (m) => m.getChildText('body') === 'history 1'), 300);
  });

  it('a session that closes leaves every room: the others get unavailable, no ghost stays', async () => {
    const [alice] = open as [Wire];
    const eve2 = await login('eve', 'second');
    await join(eve2, 'chatter', 'Ghost');
    await alice.waitFor(match('presence', { from: `chatter@${MUC}/Ghost` }, (p) => p.attrs.type === undefined));
    eve2.destroy();
    const gone = await alice.waitFor(match('presence', { from: `chatter@${MUC}/Ghost`, type: 'unavailable' }), 15_000);
    expect(itemOf(gone)?.attrs.role).toBe('none');
    const items = await alice.iq(`<iq type='get' to='chatter@${MUC}'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    expect(items.getChild('query')?.getChildren('item').map((i) => i.attrs.name)).not.toContain('Ghost');
  });

  it('bad input: no nick, a blank nick, a presence flood, an outsider speaking, nothing half-done', async () => {
    const [alice] = open as [Wire];
    const dave = open[3] as Wire;
    dave.send(`<presence to='chatter@${MUC}' id='nonick'><x xmlns='${NS_MUC}'/></presence>`);
    expect(condition(await dave.waitFor(match('presence', { id: 'nonick', type: 'error' })))).toBe('jid-malformed');
    expect(condition(await join(dave, 'chatter', '   '))).toBe('not-acceptable');
    dave.send(groupchat('chatter', 'not in the room', 'outsider'));
    expect(condition(await dave.waitFor(match('message', { id: 'outsider', type: 'error' })))).toBe('not-acceptable');
    expect(codes(await join(dave, 'chatter', 'Dave'))).toEqual([110]);
    for (let i = 0; i < 40; i++) dave.send(`<presence to='chatter@${MUC}/Dave' id='p${i}'><status>${i}</status></presence>`);
    const refused = await dave.collect(match('presence', { type: 'error' }, (p) => (p.attrs.id ?? '').startsWith('p')), 1500);
    expect(refused.length).toBeGreaterThan(20);
    expect(condition(refused[0] as El)).toBe('policy-violation');
    const seen = alice.received.filter((p) => p.name === 'presence' && p.attrs.from === `chatter@${MUC}/Dave` && p.getChildText('status') !== undefined);
    expect(seen.length).toBeLessThanOrEqual(15);
    // Dave is still in, with one of the presences that passed; the room did not store a refused one.
    const last = seen.at(-1)?.getChildText('status');
    expect(Number(last)).toBeLessThan(20);
  });

  it('limits: a full room refuses with service-unavailable; a flooding occupant is throttled with policy-violation while the room carries on, memory bounded', async () => {
    const [alice, bob] = open as [Wire, Wire];
    const dave = open[3] as Wire;
    await join(alice, 'small', 'Alice');
    expect((await configure(alice, 'small', { 'muc#roomconfig_maxusers': '2' })).attrs.type).toBe('result');
    expect(codes(await join(bob, 'small', 'Bob'))).toEqual([110]);
    const full = await join(dave, 'small', 'Dave');
    expect(condition(full)).toBe('service-unavailable');
    expect(full.getChild('error')?.attrs.type).toBe('wait');

    const before = await child.rss();
    const N = 300;
    const payload = 'f'.repeat(2000);
    for (let i = 0; i < N; i++) bob.send(`<message to='small@${MUC}' type='groupchat' id='flood${i}'><body>${payload}</body></message>`);
    const errors = await bob.collect(match('message', { type: 'error' }, (m) => (m.attrs.id ?? '').startsWith('flood')), 4000);
    expect(errors.length).toBeGreaterThan(N - 40);
    expect(condition(errors[0] as El)).toBe('policy-violation');
    expect(errors[0]?.getChild('error')?.attrs.type).toBe('wait');
    const passed = alice.received.filter((m) => m.name === 'message' && (m.attrs.id ?? '').startsWith('flood') && m.attrs.type === 'groupchat');
    expect(passed.length).toBeLessThanOrEqual(40);
    // Alice still speaks at once.
    alice.send(groupchat('small', 'still here'));
    await bob.waitFor(fromRoom('small', 'Alice', 'still here'));
    const after = await child.rss();
    expect(after - before).toBeLessThan(64 * 1024 * 1024);
  }, 30_000);

  it('destroy: occupants get unavailable with <destroy/> naming the alternate venue and reason', async () => {
    const [alice, bob] = open as [Wire, Wire];
    const r = await alice.iq(`<iq type='set' to='small@${MUC}'><query xmlns='${NS_OWNER}'><destroy jid='lobby@${MUC}'><reason>moved</reason></destroy></query></iq>`);
    expect(r.attrs.type).toBe('result');
    const p = await bob.waitFor(match('presence', { from: `small@${MUC}/Bob`, type: 'unavailable' }, (e) => e.getChild('x', NS_USER)?.getChild('destroy') !== undefined));
    expect(p.getChild('x', NS_USER)?.getChild('destroy')?.attrs.jid).toBe(`lobby@${MUC}`);
    expect(p.getChild('x', NS_USER)?.getChild('destroy')?.getChildText('reason')).toBe('moved');
    const gone = await bob.iq(`<iq type='get' to='small@${MUC}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(condition(gone)).toBe('item-not-found');
  });

  it('a persistent room keeps its config, affiliations and subject across a restart; occupants get 332 on shutdown', async () => {
    const [alice] = open as [Wire];
    await join(alice, 'keep', 'Alice');
    expect((await configure(alice, 'keep', { 'muc#roomconfig_persistentroom': '1', 'muc#roomconfig_roomname': 'Kept room', 'muc#roomconfig_membersonly': '1' })).attrs.type).toBe('result');
    expect((await admin(alice, 'keep', `<item jid='bob@localhost' affiliation='member'/>`)).attrs.type).toBe('result');
    alice.send(`<message to='keep@${MUC}' type='groupchat'><subject>Still here</subject></message>`);
    await alice.waitFor(match('message', { from: `keep@${MUC}/Alice` }, (m) => m.getChildText('subject') === 'Still here'));
    const stopping = alice.waitFor(match('presence', { from: `keep@${MUC}/Alice`, type: 'unavailable' }, (p) => codes(p).includes(332)), 15_000);
    const dir = child.dir;
    const ended = child.kill('SIGTERM');
    expect(codes(await stopping)).toContain(332);
    await ended;
    for (const w of open.splice(0)) w.destroy();
    child = await startChild({ dir });
    const bob2 = await login('bob');
    const dave2 = await login('dave');
    expect(condition(await join(dave2, 'keep', 'Dave'))).toBe('registration-required');
    const self = await join(bob2, 'keep', 'Bob');
    expect(codes(self)).toEqual([110]);
    expect(itemOf(self)?.attrs.affiliation).toBe('member');
    await bob2.waitFor(match('message', { from: `keep@${MUC}/Alice` }, (m) => m.getChildText('subject') === 'Still here'));
    const info = await bob2.iq(`<iq type='get' to='keep@${MUC}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(info.getChild('query')?.getChild('identity')?.attrs.name).toBe('Kept room');
    expect(info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var)).toEqual(expect.arrayContaining(['muc_persistent', 'muc_membersonly']));
  }, 60_000);
});
