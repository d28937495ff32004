// An acknowledged message is an archived one: the archive append is awaited inside the routing of
// the message, and a c2s stream handles one stanza at a time, so a stream-management <a/> for it
// (XEP-0198) comes only after the append resolved (the file backend resolves once the record is
// fsynced). Shown with a memory archive whose appends wait on a gate the test opens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { match, Wire } from '../helpers/wire.js';
import { NS_SID } from '../helpers/mam.js';
import { GatedArchive } from '../helpers/gated-archive.js';

const PASS = 'mam-ack-pass';
const NS_SM = 'urn:xmpp:sm:3';
let ts: TestServer;
const archive = new GatedArchive('before-queue');

beforeAll(async () => {
  ts = await startTestServer({ storage: archive.backend() });
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
      archive.hold();
      alice.send(`<message to='bob@localhost' type='chat'><body>held</body></message><r xmlns='${NS_SM}'/>`);
      // Nothing may wait for the <a/> yet: a waiter would take it from the inbox, out of sight
      // of expectNothing.
      await alice.expectNothing((el) => el.name === 'a', 300);
      await bob.expectNothing((el) => el.name === 'message', 10);
      expect(archive.appends).toBe(0);
      archive.open();
      expect((await alice.waitFor((el) => el.name === 'a' && el.xmlns === NS_SM)).attrs.h).toBe('1');
      expect(archive.appends).toBe(2); // the sender's and the recipient's archive
      const m = await bob.waitFor((el) => el.name === 'message');
      expect(m.getChild('stanza-id', NS_SID)?.attrs.by).toBe('bob@localhost');
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});
