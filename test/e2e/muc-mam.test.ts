// Room history in MAM (muc_mam on Component "conference.localhost" "muc") with the raw Wire client
// against a Clove child process (file storage): three messages in a room, each broadcast with the
// room's stanza-id; a new occupant pages them with RSM forwards and backwards, results from the
// room JID with senders as room/nick and no real JIDs; a spoofed stanza-id is stripped; a
// non-member is refused on a members-only room; the archive survives a restart and goes with the
// room when it is destroyed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { match, Wire, type El } from '../helpers/wire.js';
import { mamQuery, NS_MAM, NS_RSM, NS_SID, type MamAnswer } from '../helpers/mam.js';

const PASS = 'mucmam pass';
const MUC = 'conference.localhost';
const ROOM = `logs@${MUC}`;
const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_USER = `${NS_MUC}#user`;
const NS_OWNER = `${NS_MUC}#owner`;
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const HOSTS = `VirtualHost "localhost"\nComponent "${MUC}" "muc"\n  modules_enabled = { "muc_mam" }\n`;

let child: ChildServer;
const open: Wire[] = [];

const codes = (el: El): number[] => el.getChild('x', NS_USER)?.getChildren('status').map((s) => Number(s.attrs.code)) ?? [];
const condition = (el: El): string | undefined => el.getChild('error')?.elements().find((e) => e.xmlns === NS_STANZAS)?.name;
const roomIds = (m: El, room: string): string[] => m.getChildren('stanza-id', NS_SID).filter((s) => s.attrs.by === room).map((s) => s.attrs.id ?? '');

async function login(user: string): Promise<Wire> {
  const w = await Wire.login({ port: child.port, username: user, password: PASS, resource: 'r', timeoutMs: 10_000 });
  open.push(w);
  return w;
}

async function join(w: Wire, room: string, nick: string): Promise<El> {
  w.send(`<presence to='${room}/${nick}'><x xmlns='${NS_MUC}'/></presence>`);
  return w.waitFor(match('presence', { from: `${room}/${nick}` }, (p) => p.attrs.type === 'error' || codes(p).includes(110)));
}

async function configure(w: Wire, room: string, fields: Record<string, string>): Promise<El> {
  const f = Object.entries(fields).map(([k, v]) => `<field var='${k}'><value>${v}</value></field>`).join('');
  return w.iq(`<iq type='set' to='${room}'><query xmlns='${NS_OWNER}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS_MUC}#roomconfig</value></field>${f}</x></query></iq>`);
}

// The archived message stays a jabber:client message inside <forwarded/>.
const inner = (r: El): El => r.getChild('result', NS_MAM)!.getChild('forwarded', 'urn:xmpp:forward:0')!.getChild('message', 'jabber:client')!;
const rsm = (a: MamAnswer, name: string): string | undefined => a.fin?.getChild('set', NS_RSM)?.getChildText(name);

describe('room history in MAM (muc_mam)', () => {
  const live: string[] = [];

  beforeAll(async () => {
    child = await startChild({ hosts: HOSTS });
    await addUsers(child.configPath, ['alice', 'bob', 'carol'].map((u) => [`${u}@localhost`, PASS] as [string, string]));
  }, 60_000);

  afterAll(async () => {
    for (const w of open) w.destroy();
    await child?.kill().then(() => removeChildDir(child.dir));
  });

  it('stamps each groupchat message with the room stanza-id before the broadcast and advertises MAM', async () => {
    const alice = await login('alice');
    expect(codes(await join(alice, ROOM, 'Alice'))).toContain(201);
    expect((await configure(alice, ROOM, { 'muc#roomconfig_persistentroom': '1' })).attrs.type).toBe('result');
    const info = await alice.iq(`<iq type='get' to='${ROOM}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(info.getChild('query')?.getChildren('feature').map((f) => f.attrs.var)).toEqual(expect.arrayContaining([NS_MAM, NS_SID, `${NS_MUC}#stable_id`]));
    const form = await alice.iq(`<iq type='get' to='${ROOM}'><query xmlns='${NS_OWNER}'/></iq>`);
    expect(form.toString()).toContain('muc#roomconfig_enablearchiving');
    for (const body of ['one', 'two', 'three']) {
      // A stanza-id the sender made up in the room's name is never passed on.
      alice.send(`<message to='${ROOM}' type='groupchat' id='${body}'><body>${body}</body><stanza-id xmlns='${NS_SID}' by='${ROOM}' id='fake-${body}'/></message>`);
      const m = await alice.waitFor(match('message', { from: `${ROOM}/Alice`, type: 'groupchat' }, (e) => e.getChildText('body') === body));
      const ids = roomIds(m, ROOM);
      expect(ids).toHaveLength(1);
      expect(ids[0]).not.toBe(`fake-${body}`);
      live.push(ids[0]!);
    }
  });

  it('a new occupant pages the history with RSM forwards and backwards; ids are the live stanza-ids', async () => {
    const bob = await login('bob');
    // §7.2.12: entering a logged room is told so (170).
    expect(codes(await join(bob, ROOM, 'Bob'))).toEqual(expect.arrayContaining([110, 170]));
    const first = await mamQuery(bob, { max: 2 }, ROOM);
    expect(first.reply.attrs.type).toBe('result');
    expect(first.bodies).toEqual(['one', 'two']);
    expect(first.ids).toEqual(live.slice(0, 2));
    expect(first.results.every((r) => r.attrs.from === ROOM)).toBe(true);
    expect(first.results.map((r) => inner(r).attrs.from)).toEqual([`${ROOM}/Alice`, `${ROOM}/Alice`]);
    // A semi-anonymous room: no real JID in what the archive shows.
    expect(first.results.some((r) => inner(r).toString().includes('alice@localhost'))).toBe(false);
    expect(rsm(first, 'count')).toBe('3');
    const next = await mamQuery(bob, { max: 2, after: rsm(first, 'last')! }, ROOM);
    expect(next.bodies).toEqual(['three']);
    expect(next.fin?.attrs.complete).toBe('true');
    const last = await mamQuery(bob, { max: 2, before: '' }, ROOM);
    expect(last.bodies).toEqual(['two', 'three']);
    const earlier = await mamQuery(bob, { max: 2, before: rsm(last, 'first')! }, ROOM);
    expect(earlier.bodies).toEqual(['one']);
    expect(earlier.ids[0]).toBe(live[0]);
  });

  it('refuses a non-member on a members-only room', async () => {
    const [alice] = open as [Wire];
    const carol = await login('carol');
    expect((await mamQuery(carol, { max: 1 }, ROOM)).results).toHaveLength(1);
    expect((await configure(alice, ROOM, { 'muc#roomconfig_membersonly': '1' })).attrs.type).toBe('result');
    const refused = await mamQuery(carol, { max: 5 }, ROOM);
    expect(condition(refused.reply)).toBe('forbidden');
    expect(refused.results).toHaveLength(0);
    expect((await configure(alice, ROOM, { 'muc#roomconfig_membersonly': '0' })).attrs.type).toBe('result');
  });

  it('keeps the archive across a restart and deletes it with the room', async () => {
    const dir = child.dir;
    for (const w of open.splice(0)) w.destroy();
    await child.kill('SIGTERM');
    child = await startChild({ dir });
    const bob = await login('bob');
    const kept = await mamQuery(bob, { max: 10 }, ROOM);
    expect(kept.bodies).toEqual(['one', 'two', 'three']);
    expect(kept.ids).toEqual(live);
    const alice = await login('alice');
    await join(alice, ROOM, 'Alice');
    expect((await alice.iq(`<iq type='set' to='${ROOM}'><query xmlns='${NS_OWNER}'><destroy/></query></iq>`)).attrs.type).toBe('result');
    await alice.waitFor(match('presence', { from: `${ROOM}/Alice`, type: 'unavailable' }));
    expect(codes(await join(alice, ROOM, 'Alice'))).toContain(201);
    expect((await configure(alice, ROOM, {})).attrs.type).toBe('result');
    const after = await mamQuery(alice, { max: 10 }, ROOM);
    expect(after.reply.attrs.type).toBe('result');
    expect(after.results).toHaveLength(0);
  }, 60_000);
});
