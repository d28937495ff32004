// Registering a nickname with a room (XEP-0045 §7.10, as Prosody's muc register.lib.lua) against a
// Clove child process: strangers and outcasts refused, a member reserves a nick (the form, then
// <registered/>), disco#info node x-roomuser-item names it (§7.12), nobody else may join as it or
// reserve it (conflict), the reservation survives a restart, and <remove/> frees it and ends a
// plain membership.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { match, Wire, type El } from '../helpers/wire.js';

const PASS = 'muc register pass';
const MUC = 'conference.localhost';
const ROOM = `club@${MUC}`;
const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_REGISTER = 'jabber:iq:register';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const HOSTS = `VirtualHost "localhost"\nComponent "${MUC}" "muc"\n`;

let child: ChildServer;
const open: Wire[] = [];

const condition = (el: El): string | undefined => el.getChild('error')?.elements().find((e) => e.xmlns === NS_STANZAS)?.name;
const registerGet = (w: Wire): Promise<El> => w.iq(`<iq type='get' to='${ROOM}'><query xmlns='${NS_REGISTER}'/></iq>`);
const register = (w: Wire, nick: string): Promise<El> =>
  w.iq(`<iq type='set' to='${ROOM}'><query xmlns='${NS_REGISTER}'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${NS_MUC}#register</value></field><field var='muc#register_roomnick'><value>${nick}</value></field></x></query></iq>`);
const reservedNick = async (w: Wire): Promise<string | undefined> =>
  (await w.iq(`<iq type='get' to='${ROOM}'><query xmlns='http://jabber.org/protocol/disco#info' node='x-roomuser-item'/></iq>`)).getChild('query')?.getChild('identity')?.attrs.name;

async function login(user: string): Promise<Wire> {
  const w = await Wire.login({ port: child.port, username: user, password: PASS, resource: 'r', timeoutMs: 10_000 });
  open.push(w);
  return w;
}

async function join(w: Wire, nick: string): Promise<El> {
  w.send(`<presence to='${ROOM}/${nick}'><x xmlns='${NS_MUC}'/></presence>`);
  return w.waitFor(match('presence', { from: `${ROOM}/${nick}` }, (p) => p.attrs.type === 'error' || p.getChild('x', `${NS_MUC}#user`)?.getChildren('status').some((s) => s.attrs.code === '110') === true));
}

describe('registering a nickname with a room', () => {
  beforeAll(async () => {
    child = await startChild({ hosts: HOSTS });
    await addUsers(child.configPath, ['alice', 'bob', 'carol', 'mallory'].map((u) => [`${u}@localhost`, PASS] as [string, string]));
  }, 60_000);

  afterAll(async () => {
    for (const w of open) w.destroy();
    await child?.kill().then(() => removeChildDir(child.dir));
  });

  it('lets a member reserve a nick nobody else may take, kept across a restart, until removed', async () => {
    const [alice, bob, carol, mallory] = [await login('alice'), await login('bob'), await login('carol'), await login('mallory')];
    await join(alice, 'Alice');
    const persistent = `<field var='FORM_TYPE' type='hidden'><value>${NS_MUC}#roomconfig</value></field><field var='muc#roomconfig_persistentroom'><value>1</value></field>`;
    expect((await alice.iq(`<iq type='set' to='${ROOM}'><query xmlns='${NS_MUC}#owner'><x xmlns='jabber:x:data' type='submit'>${persistent}</x></query></iq>`)).attrs.type).toBe('result');
    const affiliate = (jid: string, affiliation: string) => alice.iq(`<iq type='set' to='${ROOM}'><query xmlns='${NS_MUC}#admin'><item jid='${jid}' affiliation='${affiliation}'/></query></iq>`);
    expect((await affiliate('bob@localhost', 'member')).attrs.type).toBe('result');
    expect((await affiliate('mallory@localhost', 'outcast')).attrs.type).toBe('result');

    // Strangers and outcasts may not register (as Prosody).
    expect(condition(await registerGet(carol))).toBe('registration-required');
    expect(condition(await registerGet(mallory))).toBe('forbidden');
    expect(condition(await register(carol, 'Bobby'))).toBe('registration-required');

    // A member gets the form, registers, and is told so afterwards.
    const form = (await registerGet(bob)).getChild('query', NS_REGISTER)?.getChild('x', 'jabber:x:data');
    expect(form?.getChildren('field').map((f) => f.attrs.var)).toContain('muc#register_roomnick');
    expect(await reservedNick(bob)).toBeUndefined();
    expect((await register(bob, 'Bobby')).attrs.type).toBe('result');
    const registered = (await registerGet(bob)).getChild('query', NS_REGISTER);
    expect(registered?.getChild('registered')).toBeDefined();
    expect(registered?.getChildText('username')).toBe('Bobby');
    expect(await reservedNick(bob)).toBe('Bobby');

    // Nobody else joins as it, changes to it or reserves it.
    expect(condition(await join(carol, 'Bobby'))).toBe('conflict');
    expect((await affiliate('carol@localhost', 'member')).attrs.type).toBe('result');
    expect(condition(await register(carol, 'Bobby'))).toBe('conflict');
    await join(carol, 'Carol');
    carol.send(`<presence to='${ROOM}/Bobby'/>`);
    const refused = await carol.waitFor(match('presence', { from: `${ROOM}/Bobby`, type: 'error' }));
    expect(condition(refused)).toBe('conflict');
    expect((await join(bob, 'Bobby')).attrs.type).toBeUndefined();

    // Kept with the room's affiliations across a restart.
    const dir = child.dir;
    await child.kill('SIGTERM');
    for (const w of open.splice(0)) w.destroy();
    child = await startChild({ dir });
    const bob2 = await login('bob');
    const carol2 = await login('carol');
    expect(await reservedNick(bob2)).toBe('Bobby');
    expect(condition(await join(carol2, 'Bobby'))).toBe('conflict');

    // <remove/> frees the nick and ends the plain membership.
    expect((await bob2.iq(`<iq type='set' to='${ROOM}'><query xmlns='${NS_REGISTER}'><remove/></query></iq>`)).attrs.type).toBe('result');
    expect(condition(await registerGet(bob2))).toBe('registration-required');
    expect((await join(carol2, 'Bobby')).attrs.type).toBeUndefined();
  }, 60_000);
});
