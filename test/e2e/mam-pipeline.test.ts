// Pipelined archiving (docs/architecture.md, "Handling order"): a client's chat messages are
// started while the earlier ones wait for their archive writes to be durable, so one journal
// write carries many of one sender's messages, and yet every recipient gets the stanzas in the
// order sent, the archives keep that order with the ids seen live, and a XEP-0198 <a/> counts
// only archived messages. Real server (file archive), real sockets, raw clients.
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { match, Wire, type El } from '../helpers/wire.js';
import { mamAll, NS_SID, stanzaIdBy } from '../helpers/mam.js';
import { GatedArchive } from '../helpers/gated-archive.js';
import { PIPELINE_MAX } from '../../src/stream/xml-stream.js';

const PASS = 'mam-pipeline-pass';
const NS_SM = 'urn:xmpp:sm:3';
const NS_CHATSTATES = 'http://jabber.org/protocol/chatstates';
const BURST = 200;

/** What a stanza of the burst is called in the recipient's view: its body, status or chat state. */
function label(el: El): string | undefined {
  if (el.name === 'presence') return el.getChildText('status');
  if (el.name !== 'message') return undefined;
  return el.getChildText('body') ?? (el.getChild('composing', NS_CHATSTATES) ? `cs:${el.attrs.id}` : undefined);
}

/** A wait whose arrival can be checked without consuming anything else. */
function early(wait: Promise<El>): { el: Promise<El>; arrived: boolean } {
  const out = { el: wait, arrived: false };
  void wait.then(() => (out.arrived = true), () => undefined);
  return out;
}

async function available(w: Wire): Promise<void> {
  w.send('<presence/>');
  await w.waitFor(match('presence', { from: w.jid }));
}

/** `from` (resource `resource`) and `to` (available) logged in for `run`; both closed afterwards, after `finish`. */
async function withPair(ts: TestServer, from: string, to: string, resource: string, run: (a: Wire, b: Wire) => Promise<void>, finish?: () => void): Promise<void> {
  const a = await Wire.login({ port: ts.port, username: from, password: PASS, resource });
  const b = await Wire.login({ port: ts.port, username: to, password: PASS, resource: to[0]! });
  try {
    await available(b);
    await run(a, b);
  } finally {
    finish?.();
    await a.close();
    await b.close();
  }
}

describe('pipelined archiving, file archive', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ storage: 'file' });
    for (const u of ['alice', 'bob', 'carol', 'dave']) await ts.addUser(u, PASS);
  });
  afterAll(async () => { await ts?.stop(); });

  it('a stream error in the middle of a burst closes the stream after the messages before it, which are archived and delivered; none after it', async () => {
    await withPair(ts, 'carol', 'dave', 'c', async (carol, dave) => {
      let burst = '';
      for (let i = 0; i < 40; i++) burst += `<message to='dave@localhost' type='chat'><body>e${i}</body></message>`;
      burst += `<message from='mallory@localhost' to='dave@localhost' type='chat'><body>spoofed</body></message>`;
      for (let i = 40; i < 60; i++) burst += `<message to='dave@localhost' type='chat'><body>e${i}</body></message>`;
      carol.send(burst);
      const error = await carol.waitFor(match('stream:error'), 20_000);
      expect(error.getChild('invalid-from')).toBeDefined();
      await dave.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'e39', 20_000);
      await dave.expectNothing((el) => el.name === 'message' && el.getChildText('body') !== undefined && !/^e([0-9]|[1-3][0-9])$/.test(el.getChildText('body') ?? ''), 300);
      const got = dave.received.filter((el) => el.name === 'message');
      expect(got.map((el) => el.getChildText('body'))).toEqual(Array.from({ length: 40 }, (_, i) => `e${i}`));
      const archived = await mamAll(dave, {}, 100);
      expect(archived.map((it) => it.message.getChildText('body'))).toEqual(Array.from({ length: 40 }, (_, i) => `e${i}`));
    });
  }, 60_000);

  it('a burst keeps its order everywhere, shares journal writes, and <a/> counts only archived messages', async () => {
    await withPair(ts, 'alice', 'bob', 'a', async (alice, bob) => {
      alice.send(`<enable xmlns='${NS_SM}'/>`);
      await alice.waitFor(match('enabled'));
      // Archivable messages, with every few a chat state (no body), a headline, an iq ping and a
      // directed presence in between: what bob must see, in this order.
      const parts: string[] = [];
      const expected: string[] = [];
      let stanzas = 0;
      for (let i = 0; i < BURST; i++) {
        parts.push(`<message to='bob@localhost' type='chat' id='m${i}'><body>m${i}</body></message>`);
        expected.push(`m${i}`);
        stanzas++;
        if (i % 20 === 7) {
          parts.push(`<message to='bob@localhost' type='chat' id='c${i}'><composing xmlns='${NS_CHATSTATES}'/></message>`);
          parts.push(`<message to='bob@localhost' type='headline'><body>h${i}</body></message>`);
          parts.push(`<iq type='get' id='ping${i}' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
          parts.push(`<presence to='bob@localhost/b'><status>p${i}</status></presence>`);
          expected.push(`cs:c${i}`, `h${i}`, `p${i}`);
          stanzas += 4;
        }
      }
      const before = ts.server.stats().journalWrites ?? { writes: 0, entries: 0 };
      alice.send(parts.join('') + `<r xmlns='${NS_SM}'/>`);
      const ack = await alice.waitFor((el) => el.name === 'a' && el.xmlns === NS_SM, 30_000);
      expect(ack.attrs.h).toBe(String(stanzas));
      // Acknowledged means archived: the sender's archive has every counted message now.
      const sent = await mamAll(alice, {}, 100);
      expect(sent.map((it) => it.message.getChildText('body'))).toEqual(expected.filter((e) => e.startsWith('m')));
      const journal = ts.server.stats().journalWrites ?? { writes: 0, entries: 0 };

      await bob.waitFor((el) => el.name === 'message' && el.getChildText('body') === `m${BURST - 1}`, 30_000);
      const live = bob.received.filter((el) => el.name === 'message' || (el.name === 'presence' && el.attrs.from === alice.jid));
      expect(live.map(label)).toEqual(expected);
      // The recipient's archive: same order, and the ids it saw live.
      const archived = await mamAll(bob, {}, 100);
      expect(archived.map((it) => it.message.getChildText('body'))).toEqual(expected.filter((e) => e.startsWith('m')));
      const liveIds = live.filter((el) => el.getChildText('body')?.startsWith('m')).map((el) => stanzaIdBy(el, 'bob@localhost'));
      expect(liveIds).toEqual(archived.map((it) => it.id));
      expect(live.filter((el) => !el.getChildText('body')?.startsWith('m')).every((el) => el.getChild('stanza-id', NS_SID) === undefined)).toBe(true);

      // One sender's messages used to cost one durable write each (both archives' records in it),
      // and now share them.
      expect(journal.writes).toBeGreaterThan(before.writes);
      expect((journal.writes - before.writes) / BURST).toBeLessThan(0.5);
    });
  }, 60_000);
});

describe('pipelined archiving, held durability', () => {
  let ts: TestServer;
  const archive = new GatedArchive('before-durable');

  beforeAll(async () => {
    ts = await startTestServer({ storage: archive.backend() });
    for (const u of ['alice', 'bob']) await ts.addUser(u, PASS);
  });
  afterAll(async () => { await ts?.stop(); });

  it('later messages are appended while earlier ones wait (at most PIPELINE_MAX), and nothing is delivered or acknowledged early', async () => {
    await withPair(ts, 'alice', 'bob', 'a', async (alice, bob) => {
      alice.send(`<enable xmlns='${NS_SM}'/>`);
      await alice.waitFor(match('enabled'));
      archive.hold();
      archive.appends = 0;
      const n = PIPELINE_MAX + 8;
      let burst = '';
      for (let i = 0; i < n; i++) burst += `<message to='bob@localhost' type='chat'><body>g${i}</body></message>`;
      alice.send(burst + `<r xmlns='${NS_SM}'/>`);
      const ack = early(alice.waitFor((el) => el.name === 'a' && el.xmlns === NS_SM, 20_000));
      // One stanza at a time would have stopped at the first message's two appends.
      await expect.poll(() => archive.appends, { timeout: 10_000 }).toBe(2 * PIPELINE_MAX);
      await delay(300);
      expect(archive.appends).toBe(2 * PIPELINE_MAX); // and no more while they are in flight
      expect(ack.arrived).toBe(false);
      await bob.expectNothing((el) => el.name === 'message', 10);
      archive.open();
      expect((await ack.el).attrs.h).toBe(String(n));
      expect(archive.appends).toBe(2 * n);
      await bob.waitFor((el) => el.name === 'message' && el.getChildText('body') === `g${n - 1}`, 20_000);
      const got = bob.received.filter((el) => el.name === 'message' && el.getChildText('body')?.startsWith('g'));
      expect(got.map((el) => el.getChildText('body'))).toEqual(Array.from({ length: n }, (_, i) => `g${i}`));
      const archived = await mamAll(bob, {}, 100);
      expect(got.map((el) => stanzaIdBy(el, 'bob@localhost'))).toEqual(archived.map((it) => it.id));
    }, () => archive.open());
  }, 60_000);

  it('a resumption after a lost connection answers <resumed h/> only once the messages in flight are archived, and they are all delivered in order', async () => {
    const alice = await Wire.login({ port: ts.port, username: 'alice', password: PASS, resource: 'r' });
    const bob = await Wire.login({ port: ts.port, username: 'bob', password: PASS, resource: 'b' });
    let again: Wire | undefined;
    try {
      await available(bob);
      alice.send(`<enable xmlns='${NS_SM}' resume='true'/>`);
      const id = (await alice.waitFor(match('enabled'))).attrs.id;
      archive.hold();
      archive.appends = 0;
      const n = PIPELINE_MAX;
      let burst = '';
      for (let i = 0; i < n; i++) burst += `<message to='bob@localhost' type='chat'><body>s${i}</body></message>`;
      alice.send(burst);
      await expect.poll(() => archive.appends, { timeout: 10_000 }).toBe(2 * n);
      alice.destroy(); // lost, not closed: the session hibernates with n messages in flight
      again = await Wire.login({ port: ts.port, username: 'alice', password: PASS, bind: false });
      again.send(`<resume xmlns='${NS_SM}' previd='${id}' h='0'/>`);
      const resumed = early(again.waitFor((el) => el.name === 'resumed' && el.xmlns === NS_SM, 20_000));
      await delay(500);
      expect(resumed.arrived).toBe(false);
      await bob.expectNothing((el) => el.name === 'message', 10);
      archive.open();
      expect((await resumed.el).attrs.h).toBe(String(n));
      await bob.waitFor((el) => el.name === 'message' && el.getChildText('body') === `s${n - 1}`, 20_000);
      const got = bob.received.filter((el) => el.name === 'message' && el.getChildText('body')?.startsWith('s'));
      expect(got.map((el) => el.getChildText('body'))).toEqual(Array.from({ length: n }, (_, i) => `s${i}`));
    } finally {
      archive.open();
      await again?.close();
      await bob.close();
    }
  }, 60_000);
});
