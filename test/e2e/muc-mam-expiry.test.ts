// Room archives (muc_mam) honour archive_expires_after: an in-process server with
// createMucMam(clock) in place of the shipped module, a clock the test moves (no sleeping), and
// a room whose first message passes one week while the second does not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { match, Wire } from '../helpers/wire.js';
import { mamQuery, TestClock } from '../helpers/mam.js';
import { createMucMam } from '../../src/modules/muc-mam/muc-mam.js';

const MUC = 'conference.localhost';
const ROOM = `old@${MUC}`;
const clock = new TestClock();
let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ hosts: `VirtualHost "localhost"\nComponent "${MUC}" "muc"\n  modules_enabled = { "muc_mam" }\n`, extraModules: [createMucMam(clock)] });
  await ts.addUser('alice', 'alice-pw');
});

afterAll(async () => {
  await ts?.stop();
});

describe('room archive retention', () => {
  it('deletes room messages older than archive_expires_after (1w) when the clock passes it', async () => {
    const alice = await Wire.login({ port: ts.port, username: 'alice', password: 'alice-pw', resource: 'r', timeoutMs: 10_000 });
    try {
      alice.send(`<presence to='${ROOM}/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
      await alice.waitFor(match('presence', { from: `${ROOM}/Alice` }));
      expect((await alice.iq(`<iq type='set' to='${ROOM}'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>`)).attrs.type).toBe('result');
      const say = async (body: string): Promise<void> => {
        alice.send(`<message to='${ROOM}' type='groupchat'><body>${body}</body></message>`);
        await alice.waitFor(match('message', { from: `${ROOM}/Alice` }, (m) => m.getChildText('body') === body));
      };
      await say('old news');
      await clock.advance(6 * 86_400_000);
      await say('recent');
      expect((await mamQuery(alice, {}, ROOM)).bodies).toEqual(['old news', 'recent']);
      await clock.advance(86_400_000 + 3_600_000);
      expect((await mamQuery(alice, {}, ROOM)).bodies).toEqual(['recent']);
    } finally {
      await alice.close();
    }
  });
});
