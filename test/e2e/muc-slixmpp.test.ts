// The muc component with slixmpp's xep_0045 plugin (an independent client's idea of a MUC
// service) against a Clove child process: the plugin's join (occupants, self-presence, history,
// subject) for a new room and two more users, the owner form filled in as a client's dialog
// does, fan-out, subject, nick change, a private message, kick and ban with their codes,
// members-only (322 for those left without membership), a mediated invitation that makes the
// invitee a member, a password room, history on rejoin, the member list, and destroy; and a
// room bookmarked with autojoin (XEP-0048, seen as Bookmarks 2 too) joined again after a new login.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Slixmpp, slixCondition } from '../helpers/slixmpp.js';
import type { XmlElement } from '../helpers/xmppjs.js';

const PASS = 'muc pass';
const MUC = 'rooms.localhost';
const ROOM = `team@${MUC}`;
const NS_USER = 'http://jabber.org/protocol/muc#user';

interface Joined { codes: number[]; affiliation: string; role: string; jid: string | null; subject: string; occupants: string[]; history: string[] }

let child: ChildServer;
let py: Slixmpp;

const codes = (el: XmlElement): number[] => (el.getChild('x', NS_USER)?.getChildren('status') ?? []).map((s) => Number(s.attrs.code)).sort((a, b) => a - b);
const presenceFrom = (from: string, test: (el: XmlElement) => boolean = () => true) => (el: XmlElement): boolean => el.name === 'presence' && el.attrs.from === from && test(el);
const groupchat = (nick: string, body: string) => (el: XmlElement): boolean =>
  el.name === 'message' && el.attrs.type === 'groupchat' && el.attrs.from === `${ROOM}/${nick}` && el.getChildText('body') === body;

const failure = slixCondition;

const join = (name: string, nick: string, more: Record<string, unknown> = {}): Promise<Joined> => py.call<Joined>('muc_join', { name, room: ROOM, nick, ...more });

describe('the muc component with slixmpp (xep_0045)', () => {
  beforeAll(async () => {
    child = await startChild({ hosts: `VirtualHost "localhost"\nComponent "${MUC}" "muc"\n` });
    await addUsers(child.configPath, ['alice', 'bob', 'carol', 'dave'].map((u) => [`${u}@localhost`, PASS] as [string, string]));
    py = await Slixmpp.start(child, { timeoutMs: 90_000 });
    for (const u of ['alice', 'bob', 'carol', 'dave']) await py.connect(u, `${u}@localhost`, PASS, { resource: 'py' });
  }, 60_000);

  afterAll(async () => {
    await py?.stop();
    await child?.kill().then(() => removeChildDir(child.dir));
  });

  it('creates and configures a room; three users join with the codes and occupants the plugin expects', async () => {
    const alice = await join('alice', 'Alice');
    expect(alice.codes).toEqual([110, 201]);
    // The plugin counts its own presence among the occupants.
    expect(alice).toMatchObject({ affiliation: 'owner', role: 'moderator', occupants: ['Alice'] });
    const r = await py.call<{ fields: string[] }>('muc_config', { name: 'alice', room: ROOM, values: { 'muc#roomconfig_roomname': 'Team', 'muc#roomconfig_whois': 'anyone', 'muc#roomconfig_persistentroom': true } });
    expect(r.fields).toEqual(expect.arrayContaining(['muc#roomconfig_roomname', 'muc#roomconfig_roomdesc', 'muc#roomconfig_persistentroom', 'muc#roomconfig_publicroom', 'muc#roomconfig_membersonly', 'muc#roomconfig_moderatedroom', 'muc#roomconfig_passwordprotectedroom', 'muc#roomconfig_roomsecret', 'muc#roomconfig_whois', 'muc#roomconfig_maxusers', 'muc#roomconfig_historylength', 'muc#roomconfig_allowinvites', 'muc#roomconfig_changesubject', 'muc#roomconfig_allowpm']));
    const bob = await join('bob', 'Bob');
    // A non-anonymous room says so with 100 (whois anyone), and shows the real JID.
    expect(bob.codes).toEqual([100, 110]);
    expect(bob).toMatchObject({ role: 'participant', affiliation: 'none', occupants: ['Alice', 'Bob'], jid: 'bob@localhost/py' });
    const carol = await join('carol', 'Carol');
    expect(carol.occupants).toEqual(['Alice', 'Bob', 'Carol']);
    const seen = await py.waitFor('alice', presenceFrom(`${ROOM}/Carol`), 'Carol joining');
    expect(seen.getChild('x', NS_USER)?.getChild('item')?.attrs.jid).toBe('carol@localhost/py');
    expect(await py.call<string[]>('muc_roster', { name: 'bob', room: ROOM })).toEqual(['Alice', 'Bob', 'Carol']);
  }, 40_000);

  it('messages reach everyone, the subject is set, a nick change is seen with 303, a private message goes to one', async () => {
    await py.call('muc_message', { name: 'alice', room: ROOM, body: 'hi all' });
    for (const u of ['alice', 'bob', 'carol']) await py.waitFor(u, groupchat('Alice', 'hi all'), 'the groupchat message');
    await py.call('muc_subject', { name: 'alice', room: ROOM, subject: 'Plans' });
    await py.waitFor('carol', (el) => el.name === 'message' && el.attrs.from === `${ROOM}/Alice` && el.getChildText('subject') === 'Plans', 'the subject');
    await py.call('presence', { name: 'bob', to: `${ROOM}/Robert` });
    const gone = await py.waitFor('carol', presenceFrom(`${ROOM}/Bob`, (p) => p.attrs.type === 'unavailable'), 'the 303');
    expect(codes(gone)).toEqual([303]);
    expect(gone.getChild('x', NS_USER)?.getChild('item')?.attrs.nick).toBe('Robert');
    await py.waitFor('carol', presenceFrom(`${ROOM}/Robert`, (p) => p.attrs.type === undefined), 'the new nick');
    await py.call('message', { name: 'carol', to: `${ROOM}/Robert`, body: 'just you', type: 'chat' });
    const pm = await py.waitFor('bob', (el) => el.name === 'message' && el.attrs.from === `${ROOM}/Carol` && el.attrs.type === 'chat', 'the private message');
    expect(pm.getChildText('body')).toBe('just you');
  }, 30_000);

  it('kick (307) and ban (301): the banned user cannot come back, the ban list names her', async () => {
    await py.call('muc_role', { name: 'alice', room: ROOM, nick: 'Carol', role: 'none', reason: 'cool down' });
    const kicked = await py.waitFor('carol', presenceFrom(`${ROOM}/Carol`, (p) => p.attrs.type === 'unavailable'), 'the kick');
    expect(codes(kicked)).toEqual([110, 307]);
    await join('carol', 'Carol');
    await py.call('muc_affiliation', { name: 'alice', room: ROOM, jid: 'carol@localhost', affiliation: 'outcast', reason: 'enough' });
    const banned = await py.waitFor('bob', presenceFrom(`${ROOM}/Carol`, (p) => p.attrs.type === 'unavailable' && codes(p).includes(301)), 'the ban');
    expect(banned.getChild('x', NS_USER)?.getChild('item')?.attrs.affiliation).toBe('outcast');
    expect(await failure(join('carol', 'Carol'))).toBe('forbidden');
    expect(await py.call<string[]>('muc_affiliation_list', { name: 'alice', room: ROOM, affiliation: 'outcast' })).toEqual(['carol@localhost']);
    expect(await failure(py.call('muc_role', { name: 'bob', room: ROOM, nick: 'Alice', role: 'none' }))).toBe('forbidden');
  }, 30_000);

  it('members-only removes non-members with 322; an invitation makes the invitee a member who may enter', async () => {
    await py.call('muc_config', { name: 'alice', room: ROOM, values: { 'muc#roomconfig_membersonly': true } });
    const out = await py.waitFor('bob', presenceFrom(`${ROOM}/Robert`, (p) => p.attrs.type === 'unavailable'), 'the 322');
    expect(codes(out)).toEqual([110, 322]);
    expect(await failure(join('dave', 'Dave'))).toBe('registration-required');
    // Available, so the invitation (to the bare JID) is delivered rather than kept offline.
    await py.call('presence', { name: 'dave' });
    await py.call('muc_invite', { name: 'alice', room: ROOM, jid: 'dave@localhost', reason: 'join us' });
    const inv = await py.waitFor('dave', (el) => el.name === 'message' && el.attrs.from === ROOM && el.getChild('x', NS_USER)?.getChild('invite') !== undefined, 'the invitation');
    expect(inv.getChild('x', NS_USER)?.getChild('invite')?.attrs.from).toBe('alice@localhost');
    expect(inv.getChild('x', NS_USER)?.getChild('invite')?.getChildText('reason')).toBe('join us');
    expect((await join('dave', 'Dave')).affiliation).toBe('member');
    expect(await py.call<string[]>('muc_affiliation_list', { name: 'alice', room: ROOM, affiliation: 'member' })).toEqual(['dave@localhost']);
  }, 30_000);

  it('a password room refuses without the password; history comes on rejoin; destroy names the alternate venue', async () => {
    await py.call('muc_config', { name: 'alice', room: ROOM, values: { 'muc#roomconfig_membersonly': false, 'muc#roomconfig_passwordprotectedroom': true, 'muc#roomconfig_roomsecret': 'sesame' } });
    expect(await failure(join('bob', 'Robert'))).toBe('not-authorized');
    await py.call('muc_message', { name: 'alice', room: ROOM, body: 'one' });
    await py.call('muc_message', { name: 'alice', room: ROOM, body: 'two' });
    await py.waitFor('alice', groupchat('Alice', 'two'), 'the own echo');
    const bob = await join('bob', 'Robert', { password: 'sesame', maxstanzas: 2 });
    expect(bob.history).toEqual(['one', 'two']);
    expect(bob.subject).toBe('Plans');
    await py.call('muc_destroy', { name: 'alice', room: ROOM, reason: 'moving', altroom: `new@${MUC}` });
    const end = await py.waitFor('bob', presenceFrom(`${ROOM}/Robert`, (p) => p.attrs.type === 'unavailable' && p.getChild('x', NS_USER)?.getChild('destroy') !== undefined), 'the destroy');
    expect(end.getChild('x', NS_USER)?.getChild('destroy')?.attrs.jid).toBe(`new@${MUC}`);
    const info = await py.iq('bob', `<iq type='get' to='${ROOM}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(info.attrs.type).toBe('error');
  }, 30_000);

  it('bookmarks autojoin: a room bookmarked with autojoin is found after a new login and joined', async () => {
    const AUTO = `auto@${MUC}`;
    await py.call<Joined>('muc_join', { name: 'alice', room: AUTO, nick: 'Alice' });
    await py.call('muc_config', { name: 'alice', room: AUTO, values: { 'muc#roomconfig_persistentroom': true } });
    await py.call('bookmarks_set', { name: 'carol', conferences: [{ jid: AUTO, nick: 'Carol', name: 'Auto', autojoin: true }] });
    await py.call('disconnect', { name: 'carol' });
    await py.connect('carol2', 'carol@localhost', PASS, { resource: 'again' });
    // What a client does at login: read the bookmarks (legacy and Bookmarks 2 agree), join the autojoin ones.
    const marks = await py.call<{ conferences: { jid: string; nick: string; autojoin: boolean | string }[] }>('bookmarks_get', { name: 'carol2' });
    const auto = marks.conferences.filter((c) => c.autojoin === true || c.autojoin === 'true' || c.autojoin === '1');
    expect(auto.map((c) => c.jid)).toEqual([AUTO]);
    const pep = await py.call<{ ids: string[] }>('pep_items', { name: 'carol2', jid: 'carol@localhost', node: 'urn:xmpp:bookmarks:1' });
    expect(pep.ids).toContain(AUTO);
    for (const c of auto) {
      const joined = await py.call<Joined>('muc_join', { name: 'carol2', room: c.jid, nick: c.nick });
      expect(joined.codes).toEqual([110]);
      expect(joined.occupants).toEqual(['Alice', 'Carol']);
    }
  }, 30_000);
});
