// The message archive across the federation: a Prosody 0.12 user (Debian prosody with mod_onions)
// talks with a Clove user through the SOCKS5 test proxy standing in for i2pd. Clove archives both
// directions in its user's archive (with = the Prosody user's bare JID), the live copies carry the
// archive's stanza-id, and the Clove user pages the conversation with MAM; the Prosody user asking
// for the Clove user's archive over s2s is refused. Zero DNS on the Clove side, and i2pd is asked
// only for the two b32 names. Raw Wire clients on both servers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prosodyAvailable, onionsModuleDir } from '../helpers/prosody.js';
import { startProsodyPeer, type ProsodyPeer } from '../helpers/prosody-peer.js';
import { type El, match, NS_STANZAS, Wire } from '../helpers/wire.js';
import { itemsOf, mamAll, mamQuery, stanzaIdBy } from '../helpers/mam.js';
import * as guard from '../helpers/leak-guard.js';

const CLOVE = 'q'.repeat(52) + '.b32.i2p';
const PROSODY = 'prosody.example';
const PROSODY_B32 = 'r'.repeat(52) + '.b32.i2p';
const ALICE = `alice@${CLOVE}`;
const BOB = `bob@${PROSODY}`;
const ready = prosodyAvailable() && onionsModuleDir() !== undefined;

const body = (text: string) => (m: El): boolean => m.name === 'message' && m.getChildText('body') === text;

let peer: ProsodyPeer | undefined;

beforeAll(async () => {
  // Default modules (mam among them), darknet_only by default: remote hosts only through the proxy.
  if (ready) peer = await startProsodyPeer({ clove: CLOVE, prosody: PROSODY, prosodyB32: PROSODY_B32, cloveUsers: [{ user: 'alice', password: 'alice-pw' }], prosodyUsers: [{ user: 'bob', password: 'bob-pw' }] });
}, 40_000);

afterAll(async () => {
  await peer?.stop();
});

describe.skipIf(!ready)('MAM on Clove for a conversation with a Prosody user over the SOCKS5 proxy', () => {
  it('archives both directions with the remote party as `with`, pages them, and refuses the remote user a query', async () => {
    const { proxy, clove, prosody: p } = peer as ProsodyPeer;
    guard.start([{ port: proxy.port }, { port: clove.port }, { port: p.c2sPort }]);
    try {
      const alice = await Wire.login({ port: clove.port, domain: CLOVE, username: 'alice', password: 'alice-pw', resource: 'phone', timeoutMs: 20_000 });
      const bob = await Wire.login({ port: p.c2sPort, domain: PROSODY, username: 'bob', password: 'bob-pw', resource: 'laptop', timeoutMs: 20_000 });
      alice.send('<presence/>');
      bob.send('<presence/>');

      // Prosody → Clove: each arrives live with the id of alice's archive.
      const live: string[] = [];
      for (let i = 1; i <= 3; i++) {
        bob.send(`<message to='${ALICE}' type='chat' id='b${i}'><body>from prosody ${i}</body></message>`);
        const m = await alice.waitFor(body(`from prosody ${i}`), 30_000);
        expect(m.attrs.from).toBe(`${BOB}/laptop`);
        const sid = stanzaIdBy(m, ALICE);
        expect(sid).toBeDefined();
        live.push(sid!);
      }
      // Clove → Prosody: archived on the way out.
      alice.send(`<message to='${BOB}/laptop' type='chat' id='a1'><body>reply from clove</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`);
      const atBob = await bob.waitFor(body('reply from clove'), 30_000);
      // Clove's archive ids never leave the server.
      expect(stanzaIdBy(atBob, ALICE)).toBeUndefined();

      const all = await mamAll(alice, { with: BOB }, 2);
      expect(all.map((i) => i.message.getChildText('body'))).toEqual(['from prosody 1', 'from prosody 2', 'from prosody 3', 'reply from clove']);
      expect(all.slice(0, 3).map((i) => i.id)).toEqual(live);
      expect(all.slice(0, 3).every((i) => i.message.attrs.from === `${BOB}/laptop`)).toBe(true);
      expect(all[3]!.message.attrs.to).toBe(`${BOB}/laptop`);
      // The chat state is not kept in the archive.
      expect(all[3]!.message.toString()).not.toContain('chatstates');
      // The last page, then the page before it: RSM backwards.
      const last = await mamQuery(alice, { with: BOB, max: 2, before: '' });
      expect(last.bodies).toEqual(['from prosody 3', 'reply from clove']);
      expect(last.fin?.attrs.complete).not.toBe('true');
      const before = await mamQuery(alice, { with: BOB, max: 2, before: itemsOf(last)[0]!.id });
      expect(before.bodies).toEqual(['from prosody 1', 'from prosody 2']);
      expect(before.fin?.attrs.complete).toBe('true');
      // Nothing else is in alice's archive under another `with`.
      expect((await mamAll(alice)).map((i) => i.id)).toEqual(all.map((i) => i.id));

      // bob asks Clove (over s2s) for alice's archive, and for its metadata: refused, nothing leaks.
      const leaked = (el: El): boolean => el.name === 'message' && el.toString().includes('urn:xmpp:mam');
      for (const q of [
        `<iq type='set' to='${ALICE}'><query xmlns='urn:xmpp:mam:2' queryid='steal'/></iq>`,
        `<iq type='get' to='${ALICE}'><metadata xmlns='urn:xmpp:mam:2'/></iq>`,
        `<iq type='set' to='${ALICE}'><query xmlns='urn:xmpp:mam:1' queryid='steal1'/></iq>`,
      ]) {
        const r = await bob.iq(q, 30_000);
        expect(r.attrs.type).toBe('error');
        const condition = r.getChild('error')?.elements().find((e) => e.xmlns === NS_STANZAS)?.local;
        expect(['forbidden', 'service-unavailable']).toContain(condition);
      }
      await bob.expectNothing(match('message', {}, leaked), 300);
      expect(bob.received.filter(leaked)).toEqual([]);

      await bob.close();
      await alice.close();
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${p.tail(60)}`);
    } finally {
      guard.stop();
    }
    guard.assertNoLeaks();
    // i2pd was asked for the two b32 names only: Clove dialled Prosody's, Prosody dialled Clove's.
    expect([...new Set(proxy.requested)].sort()).toEqual([CLOVE, PROSODY_B32].sort());
  }, 90_000);
});
