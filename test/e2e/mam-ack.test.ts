// An acknowledged message is an archived one: the archive append is awaited inside the routing of
// the message, and a c2s stream handles one stanza at a time, so a stream-management <a/> for it
// (XEP-0198) comes only after the append resolved (the file backend resolves once the record is
// fsynced). Shown with a memory archive whose appends wait on a gate the test opens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { match, Wire } from '../helpers/wire.js';
import { NS_SID } from '../helpers/mam.js';
import { createMemoryBackend } from '../../src/storage/memory.js';
import type { ArchiveStore, StorageBackend } from '../../src/storage/store.js';

const PASS = 'mam-ack-pass';
const NS_SM = 'urn:xmpp:sm:3';
let ts: TestServer;
let open!: () => void;
let gate: Promise<void> = Promise.resolve();
let appended = 0;

/** The memory backend, with archive appends held until the gate opens. */
function gatedBackend(): StorageBackend {
  const inner = createMemoryBackend();
  return {
    keyval: (h, s) => inner.keyval(h, s),
    map: (h, s) => inner.map(h, s),
    close: () => inner.close(),
    archive(h, s, limits): ArchiveStore {
      const a = inner.archive(h, s, limits);
      return { ...a, append: async (owner, item) => { await gate; appended++; return a.append(owner, item); } };
    },
  };
}

beforeAll(async () => {
  ts = await startTestServer({ storage: gatedBackend() });
  for (const u of ['alice', 'bob']) await ts.addUser(u, PASS);
});
afterAll(async () => { await ts?.stop(); });

describe('acknowledged means archived', () => {
  it('the <a/> for a message and its delivery wait for the archive append', async () => {
    const alice = await Wire.login({ port: ts.port, username: 'alice', password: PASS, resource: 'a' });
    const bob = await Wire.login({ port: ts.port, username: 'bob', password: PASS, resource: 'b' });
    try {
      bob.send('<presence/>');
      await bob.waitFor(match('presence', { from: bob.jid }));
      alice.send(`<enable xmlns='${NS_SM}'/>`);
      await alice.waitFor(match('enabled'));
      gate = new Promise((resolve) => { open = resolve; });
      alice.send(`<message to='bob@localhost' type='chat'><body>held</body></message><r xmlns='${NS_SM}'/>`);
      // Nothing may wait for the <a/> yet: a waiter would take it from the inbox, out of sight
      // of expectNothing.
      await alice.expectNothing((el) => el.name === 'a', 300);
      await bob.expectNothing((el) => el.name === 'message', 10);
      expect(appended).toBe(0);
      open();
      expect((await alice.waitFor((el) => el.name === 'a' && el.xmlns === NS_SM)).attrs.h).toBe('1');
      expect(appended).toBe(2); // the sender's and the recipient's archive
      const m = await bob.waitFor((el) => el.name === 'message');
      expect(m.getChild('stanza-id', NS_SID)?.attrs.by).toBe('bob@localhost');
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});
