// Entity capabilities grown from outside: a contact changes its caps `ver` over and over, each
// time answering the server's disco#info query with a correct (verified) answer listing 200 long
// `+notify` nodes (~40 KiB). Unbounded, every verified ver would be cached (~6 MiB of text for
// 150 vers, twice that in memory); the cache is bounded to 1 MiB in bytes (least recently used
// go first): the first vers are gone (asked again when they come back) while the latest caps work.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Wire, match } from '../helpers/wire.js';
import { friends } from '../helpers/contacts.js';
import { capsVer } from '../../src/modules/caps/caps-hash.js';
import { x, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';

const PASS = 'caps-pass';
const VERS = 150;
const MiB = 1024 * 1024;
let srv: ChildServer;

beforeAll(async () => {
  // The contact is not slowed by the read rate (100 KiB/s by default): the bound is what is tested.
  srv = await startChild({ extra: 'limits = { c2s = { rate = "100mb/s"; burst = "2s" } }' });
  await addUsers(srv.configPath, [['alice@localhost', PASS], ['bob@localhost', PASS]]);
}, 30_000);
afterAll(async () => {
  await srv?.kill();
  if (srv) await removeChildDir(srv.dir);
});

/** The disco#info of caps number `i`: 200 +notify nodes of ~200 bytes each. */
function info(i: number): Element {
  const q = x('query', { xmlns: NS.DISCO_INFO }, x('identity', { category: 'client', type: 'pc', name: 'flood' }));
  for (let n = 0; n < 200; n++) q.c('feature', { var: `urn:flood:${i}:${n}:${'f'.repeat(180)}+notify` });
  return q;
}

describe('caps from a contact that keeps changing them', () => {
  it('are cached within the byte bound: old vers are evicted, RSS stays bounded, the latest caps still work', async () => {
    const alice = await Wire.login({ port: srv.port, username: 'alice', password: PASS, resource: 'r', timeoutMs: 20_000 });
    const bob = await Wire.login({ port: srv.port, username: 'bob', password: PASS, resource: 'r', timeoutMs: 20_000 });
    await friends(alice, bob);
    const rss0 = await srv.rss();
    const started = Date.now();
    let asked = 0;
    for (let i = 0; i < VERS; i++) {
      const q = info(i);
      bob.send(`<presence><c xmlns='${NS.CAPS}' hash='sha-1' node='urn:flood' ver='${capsVer(q)}'/></presence>`);
      // One query per ver (from bob's own account or alice's, whichever learns it first), shared by both.
      const ask = await bob.waitFor(match('iq', { type: 'get' }, (el) => el.getChild('query', NS.DISCO_INFO) !== undefined), 20_000);
      asked++;
      q.attrs.node = ask.getChild('query', NS.DISCO_INFO)!.attrs.node!;
      bob.send(`<iq type='result' id='${ask.attrs.id}' to='${ask.attrs.from}'>${q.toString()}</iq>`);
      await bob.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`);
      bob.inbox.length = 0;
      alice.inbox.length = 0;
    }
    const rss1 = await srv.rss();
    console.log(`${VERS} verified caps of ~40 KiB each in ${Date.now() - started} ms; server RSS ${(rss0 / MiB).toFixed(1)} → ${(rss1 / MiB).toFixed(1)} MiB`);
    expect(asked).toBe(VERS);
    // No second query for any ver: it was verified and shared.
    expect(bob.inbox.filter((e) => e.name === 'iq' && e.attrs.type === 'get')).toEqual([]);
    // Mostly garbage of the stanzas themselves; a loose bound only.
    expect(rss1 - rss0).toBeLessThan(64 * MiB);

    // The first ver fell out of the 1 MiB cache: coming back, it is asked about again.
    bob.send(`<presence><c xmlns='${NS.CAPS}' hash='sha-1' node='urn:flood' ver='${capsVer(info(0))}'/></presence>`);
    const again = await bob.waitFor(match('iq', { type: 'get' }, (el) => el.getChild('query', NS.DISCO_INFO) !== undefined), 20_000);
    const back = info(0);
    back.attrs.node = again.getChild('query', NS.DISCO_INFO)!.attrs.node!;
    bob.send(`<iq type='result' id='${again.attrs.id}' to='${again.attrs.from}'>${back.toString()}</iq>`);
    // ...while the latest, still cached, is not.
    bob.send(`<presence><c xmlns='${NS.CAPS}' hash='sha-1' node='urn:flood' ver='${capsVer(info(VERS - 1))}'/></presence>`);
    await bob.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await alice.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(bob.inbox.filter((e) => e.name === 'iq' && e.attrs.type === 'get')).toEqual([]);

    // The latest caps count: alice's publish to a node bob's last caps want reaches him.
    const node = `urn:flood:${VERS - 1}:0:${'f'.repeat(180)}`;
    await alice.iq(`<iq type='set'><pubsub xmlns='${NS.PUBSUB}'><publish node='${node}'><item id='1'><v xmlns='urn:v'/></item></publish></pubsub></iq>`);
    const note = await bob.waitFor(match('message', { from: 'alice@localhost', type: 'headline' }), 10_000);
    expect(note.getChild('event', NS.PUBSUB_EVENT)?.getChild('items')?.attrs.node).toBe(node);
    await alice.close();
    await bob.close();
  }, 60_000);
});
