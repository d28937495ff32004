// Room history in MAM with slixmpp: xep_0045 joins and talks, xep_0313's RSM iterator pages the
// room's archive (on the room JID) both ways, and each item's id is the stanza-id by the room
// that the live groupchat carried.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Slixmpp } from '../helpers/slixmpp.js';
import type { XmlElement } from '../helpers/xmppjs.js';

const PASS = 'mucmam pass';
const MUC = 'conference.localhost';
const ROOM = `hall@${MUC}`;

interface Item { id: string; body: string; from: string }

let child: ChildServer;
let py: Slixmpp;

describe('room history in MAM with slixmpp (xep_0045 + xep_0313)', () => {
  beforeAll(async () => {
    child = await startChild({ hosts: `VirtualHost "localhost"\nComponent "${MUC}" "muc"\n  modules_enabled = { "muc_mam" }\n` });
    await addUsers(child.configPath, ['alice', 'bob'].map((u) => [`${u}@localhost`, PASS] as [string, string]));
    py = await Slixmpp.start(child, { timeoutMs: 90_000 });
    for (const u of ['alice', 'bob']) await py.connect(u, `${u}@localhost`, PASS, { resource: 'py' });
  }, 60_000);

  afterAll(async () => {
    await py?.stop();
    await child?.kill().then(() => removeChildDir(child.dir));
  });

  it('a later occupant pages three room messages forwards and backwards; ids are the live stanza-ids', async () => {
    await py.call('muc_join', { name: 'alice', room: ROOM, nick: 'Alice' });
    await py.call('muc_config', { name: 'alice', room: ROOM, values: { 'muc#roomconfig_roomname': 'Hall' } });
    const live: string[] = [];
    for (const body of ['one', 'two', 'three']) {
      await py.call('muc_message', { name: 'alice', room: ROOM, body });
      const m = await py.waitFor('alice', (el: XmlElement) => el.name === 'message' && el.attrs.from === `${ROOM}/Alice` && el.getChildText('body') === body, 'the groupchat echo');
      live.push(m.getChildren('stanza-id', 'urn:xmpp:sid:0').find((s) => s.attrs.by === ROOM)?.attrs.id ?? '');
    }
    await py.call('muc_join', { name: 'bob', room: ROOM, nick: 'Bob' });
    const all = await py.call<{ items: Item[] }>('mam_all', { name: 'bob', jid: ROOM, max: 2 });
    expect(all.items.map((i) => i.body)).toEqual(['one', 'two', 'three']);
    expect(all.items.map((i) => i.id)).toEqual(live);
    expect(all.items.map((i) => i.from)).toEqual([`${ROOM}/Alice`, `${ROOM}/Alice`, `${ROOM}/Alice`]);
    const back = await py.call<{ items: Item[] }>('mam_all', { name: 'bob', jid: ROOM, max: 2, reverse: true });
    expect(back.items.map((i) => i.body)).toEqual(['three', 'two', 'one']);
  }, 60_000);
});
