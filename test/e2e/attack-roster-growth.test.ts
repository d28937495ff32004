// Issue 9, attack 6: storage grown from outside through subscription requests. Sixty senders
// each send one subscribe carrying ~200 KiB (status text and an unknown payload, under the c2s
// stanza limit) to one offline account of a real child server with file storage. Before the fix
// every request was stored whole (≈ 12 MiB of roster, rewritten and fsynced on each one); now a
// request is kept as its sender, id, and a status of at most 1 KiB, and past
// max_pending_subscriptions (40 here) requests are dropped without an answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Wire, match } from '../helpers/wire.js';

const SENDERS = 60;
const CAP = 40;
const PASS = 'growth-pass';
const KiB = 1024;
const MiB = 1024 * KiB;
let srv: ChildServer;

beforeAll(async () => {
  srv = await startChild({ extra: `max_pending_subscriptions = ${CAP}` });
  await addUsers(srv.configPath, [['victim@localhost', PASS], ...Array.from({ length: SENDERS }, (_, i): [string, string] => [`s${i}@localhost`, PASS])]);
}, 30_000);
afterAll(async () => {
  await srv?.kill();
  if (srv) await removeChildDir(srv.dir);
});

/** One sender: log in, send a fat subscribe, wait until the server handled it, leave. */
async function fatSubscribe(i: number): Promise<string[]> {
  const c = await Wire.login({ port: srv.port, username: `s${i}`, password: PASS, resource: 'r', timeoutMs: 20_000 });
  const status = 's'.repeat(100 * KiB);
  const junk = `<junk xmlns='urn:example:junk'>${'j'.repeat(100 * KiB)}</junk>`;
  c.send(`<presence to='victim@localhost' type='subscribe' id='sub${i}'><status>${status}</status><nick xmlns='http://jabber.org/protocol/nick'>${'n'.repeat(2000)}</nick>${junk}</presence>`);
  // Stanzas of one session are handled in order: the ping's answer means the presence is done.
  await c.iq(`<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, 20_000);
  const answers = c.inbox.filter((e) => e.name === 'presence').map((e) => e.toString());
  await c.close();
  return answers;
}

describe('subscription requests from outside', () => {
  it('are stored cut short and capped: the roster on disk and the RSS stay small', async () => {
    const rss0 = await srv.rss();
    const answers: string[] = [];
    for (let i = 0; i < SENDERS; i += 10) {
      const batch = await Promise.all(Array.from({ length: 10 }, (_, j) => fatSubscribe(i + j)));
      answers.push(...batch.flat());
    }
    const rss1 = await srv.rss();
    const file = join(srv.dataPath, 'localhost', 'roster', 'victim.json');
    const size = (await stat(file)).size;
    // ≈ 60 × 200 KiB = 12 MiB before; now at most CAP × (1 KiB status + 256 B nick + JIDs).
    console.log(`roster file ${size} bytes; server RSS ${(rss0 / MiB).toFixed(1)} → ${(rss1 / MiB).toFixed(1)} MiB`);
    expect(size).toBeLessThan(CAP * 2 * KiB);
    expect(rss1 - rss0).toBeLessThan(128 * MiB);
    // Requests past the cap get no answer at all (nothing tells a stranger the list is full).
    expect(answers).toEqual([]);

    // The victim gets the first CAP requests, each cut to sender, id, status and nick.
    const v = await Wire.login({ port: srv.port, username: 'victim', password: PASS, resource: 'r', timeoutMs: 20_000 });
    v.send('<presence/>');
    await v.iq(`<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`, 20_000);
    const requests = await v.collect(match('presence', { type: 'subscribe' }), 1000);
    expect(requests).toHaveLength(CAP);
    for (const r of requests) {
      expect(r.getChild('junk', 'urn:example:junk')).toBeUndefined();
      expect(Buffer.byteLength(r.getChildText('status') ?? '')).toBeLessThanOrEqual(1024);
      expect(Buffer.byteLength(r.getChild('nick', 'http://jabber.org/protocol/nick')?.text() ?? '')).toBeLessThanOrEqual(256);
      expect(r.attrs.id).toMatch(/^sub\d+$/);
      expect(r.toString().length).toBeLessThan(2 * KiB);
    }
    await v.close();
  }, 90_000);
});
