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
import { createMemoryBackend } from '../../src/storage/memory.js';
import type { ArchiveStore, StorageBackend } from '../../src/storage/store.js';
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

describe('pipelined archiving, file archive', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ storage: 'file' });
    for (const u of ['alice', 'bob', 'carol', 'dave']) await ts.addUser(u, PASS);
  });
  afterAll(async () => { await ts?.stop(); });

  it('a stream error in the middle of a burst closes the stream after the messages before it, which are archived and delivered; none after it', async () => {
    const carol = await Wire.login({ port: ts.port, username: 'carol', password: PASS, resource: 'c' });
    const dave = await Wire.login({ port: ts.port, username: 'dave', password: PASS, resource: 'd' });
    try {
      await available(dave);
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
    } finally {
      await carol.close();
      await dave.close();
    }
  }, 60_000);

  it('a burst keeps its order everywhere, shares journal writes, and <a/> counts only archived messages', async () => {
    const alice = await Wire.login({ port: ts.port, username: 'alice', password: PASS, resource: 'a' });
    const bob = await Wire.login({ port: ts.port, username: 'bob', password: PASS, resource: 'b' });
    try {
      await available(bob);
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
    } finally {
      await alice.close();
      await bob.close();
    }
  }, 60_000);
});

describe('pipelined archiving, held durability', () => {
  let ts: TestServer;
  let open!: () => void;
  let gate: Promise<void> = Promise.resolve();
  let appends = 0;

  /** The memory backend, with archive appends queued at once but durable only once the gate opens. */
  function gatedBackend(): StorageBackend {
    const inner = createMemoryBackend();
    return {
      keyval: (h, s) => inner.keyval(h, s),
      map: (h, s) => inner.map(h, s),
      close: () => inner.close(),
      archive(h, s, limits): ArchiveStore {
        const a = inner.archive(h, s, limits);
        return {
          ...a,
          append: (owner, item, queued) => {
            appends++;
            const id = a.append(owner, item, queued);
            return gate.then(() => id);
          },
        };
      },
    };
  }

  beforeAll(async () => {
    ts = await startTestServer({ storage: gatedBackend() });
    for (const u of ['alice', 'bob']) await ts.addUser(u, PASS);
  });
  afterAll(async () => { await ts?.stop(); });

  it('later messages are appended while earlier ones wait (at most PIPELINE_MAX), and nothing is delivered or acknowledged early', async () => {
    const alice = await Wire.login({ port: ts.port, username: 'alice', password: PASS, resource: 'a' });
    const bob = await Wire.login({ port: ts.port, username: 'bob', password: PASS, resource: 'b' });
    try {
      await available(bob);
      alice.send(`<enable xmlns='${NS_SM}'/>`);
      await alice.waitFor(match('enabled'));
      gate = new Promise((resolve) => { open = resolve; });
      appends = 0;
      const n = PIPELINE_MAX + 8;
      let burst = '';
      for (let i = 0; i < n; i++) burst += `<message to='bob@localhost' type='chat'><body>g${i}</body></message>`;
      alice.send(burst + `<r xmlns='${NS_SM}'/>`);
      const ack = early(alice.waitFor((el) => el.name === 'a' && el.xmlns === NS_SM, 20_000));
      // One stanza at a time would have stopped at the first message's two appends.
      await expect.poll(() => appends, { timeout: 10_000 }).toBe(2 * PIPELINE_MAX);
      await delay(300);
      expect(appends).toBe(2 * PIPELINE_MAX); // and no more while they are in flight
      expect(ack.arrived).toBe(false);
      await bob.expectNothing((el) => el.name === 'message', 10);
      open();
      expect((await ack.el).attrs.h).toBe(String(n));
      expect(appends).toBe(2 * n);
      await bob.waitFor((el) => el.name === 'message' && el.getChildText('body') === `g${n - 1}`, 20_000);
      const got = bob.received.filter((el) => el.name === 'message' && el.getChildText('body')?.startsWith('g'));
      expect(got.map((el) => el.getChildText('body'))).toEqual(Array.from({ length: n }, (_, i) => `g${i}`));
      const archived = await mamAll(bob, {}, 100);
      expect(got.map((el) => stanzaIdBy(el, 'bob@localhost'))).toEqual(archived.map((it) => it.id));
    } finally {
      open?.();
      await alice.close();
      await bob.close();
    }
  }, 60_000);

  it('a resumption after a lost connection answers <resumed h/> only once the messages in flight are archived, and they are all delivered in order', async () => {
    const alice = await Wire.login({ port: ts.port, username: 'alice', password: PASS, resource: 'r' });
    const bob = await Wire.login({ port: ts.port, username: 'bob', password: PASS, resource: 'b' });
    let again: Wire | undefined;
    try {
      await available(bob);
      alice.send(`<enable xmlns='${NS_SM}' resume='true'/>`);
      const id = (await alice.waitFor(match('enabled'))).attrs.id;
      gate = new Promise((resolve) => { open = resolve; });
      appends = 0;
      const n = PIPELINE_MAX;
      let burst = '';
      for (let i = 0; i < n; i++) burst += `<message to='bob@localhost' type='chat'><body>s${i}</body></message>`;
      alice.send(burst);
      await expect.poll(() => appends, { timeout: 10_000 }).toBe(2 * n);
      alice.destroy(); // lost, not closed: the session hibernates with n messages in flight
      again = await Wire.login({ port: ts.port, username: 'alice', password: PASS, bind: false });
      again.send(`<resume xmlns='${NS_SM}' previd='${id}' h='0'/>`);
      const resumed = early(again.waitFor((el) => el.name === 'resumed' && el.xmlns === NS_SM, 20_000));
      await delay(500);
      expect(resumed.arrived).toBe(false);
      await bob.expectNothing((el) => el.name === 'message', 10);
      open();
      expect((await resumed.el).attrs.h).toBe(String(n));
      await bob.waitFor((el) => el.name === 'message' && el.getChildText('body') === `s${n - 1}`, 20_000);
      const got = bob.received.filter((el) => el.name === 'message' && el.getChildText('body')?.startsWith('s'));
      expect(got.map((el) => el.getChildText('body'))).toEqual(Array.from({ length: n }, (_, i) => `s${i}`));
    } finally {
      open?.();
      await again?.close();
      await bob.close();
    }
  }, 60_000);
});
