// kill -9 during a burst of archived messages (docs/architecture.md, house rule 5; XEP-0198,
// XEP-0313): a real `clove start` child with file storage (then PostgreSQL) and the default modules (mam, smacks),
// alice with stream management enabled sends bob (online) a burst of chat messages, asking for an
// ack every few; the child is SIGKILLed as soon as a good part of the burst is acknowledged, while
// the rest is still being archived. After a restart on the same data directory, every message
// whose <a h> alice received is in her archive and in bob's exactly once, in order, and the
// history archived before the burst is unchanged (same ids, same messages, all readable).
import { afterAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { match, Wire } from '../helpers/wire.js';
import { mamAll, type MamItem } from '../helpers/mam.js';
import { CHILD_STORAGES } from '../helpers/postgres.js';

const NS_SM = 'urn:xmpp:sm:3';
const PASSWORD = 'crash-pass';
const EARLIER = 60;
const BURST = 3000;
/** Acknowledged burst messages before the kill. */
const KILL_AFTER = 400;
/** An <r/> after every this many messages. */
const ASK_EVERY = 10;

const children: ChildServer[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const c of children) await c.kill('SIGKILL');
  for (const d of dirs) await removeChildDir(d);
});

const login = (c: ChildServer, username: string): Promise<Wire> =>
  Wire.login({ port: c.port, username, password: PASSWORD, resource: 'r', timeoutMs: 20_000 });

/** The h of every <a/> received so far, in order. */
const acks = (w: Wire): number[] => w.received.filter((e) => e.name === 'a' && e.xmlns === NS_SM).map((e) => Number(e.attrs.h));

/** Ask for an ack and wait until one at least `h` arrives. */
async function ackedUpTo(w: Wire, h: number): Promise<void> {
  w.send(`<r xmlns='${NS_SM}'/>`);
  await w.until(() => acks(w).some((x) => x >= h), `<a h ≥ ${h}>`, 20_000);
}

const bodyOf = (i: MamItem): string => i.message.getChildText('body') ?? '';
const snapshot = (items: MamItem[]): string[] => items.map((i) => `${i.id} ${i.when} ${i.message.toString()}`);

describe.each(CHILD_STORAGES)('%s storage', (_name, storageLines) => {
  it('loses no acknowledged archived message and corrupts no earlier history when killed mid-burst', async () => {
    const extra = await storageLines();
    const child = await startChild(extra ? { extra } : {});
    children.push(child);
    dirs.push(child.dir);
    await addUsers(child.configPath, [['alice@localhost', PASSWORD], ['bob@localhost', PASSWORD]]);

    const bob = await login(child, 'bob');
    bob.send('<presence/>');
    const alice = await login(child, 'alice');
    alice.send(`<enable xmlns='${NS_SM}'/>`);
    await alice.waitFor(match('enabled'));
    // h counts every stanza alice sends after <enable/>: the earlier history, then the burst.
    for (let i = 0; i < EARLIER; i++) alice.send(`<message to='bob@localhost' type='chat' id='e${i}'><body>earlier ${i}</body></message>`);
    await ackedUpTo(alice, EARLIER);
    const before = { alice: await mamAll(alice), bob: await mamAll(bob) };
    expect(before.alice.map(bodyOf)).toEqual(Array.from({ length: EARLIER }, (_, i) => `earlier ${i}`));
    expect(before.bob.map(bodyOf)).toEqual(before.alice.map(bodyOf));
    // The queries were stanzas too: h before the burst is what the server answers now.
    const n = acks(alice).length;
    alice.send(`<r xmlns='${NS_SM}'/>`);
    await alice.until(() => acks(alice).length > n, 'a fresh <a/>', 20_000);
    const base = acks(alice)[n]!;
    expect(base).toBeGreaterThan(EARLIER);

    // The burst, written in chunks as fast as the socket takes it, with an <r/> every ASK_EVERY.
    let killed: Promise<unknown> | undefined;
    const watch = alice.until(() => {
      if (Math.max(...acks(alice)) - base >= KILL_AFTER) return (killed ??= child.kill('SIGKILL'));
      return undefined;
    }, `${KILL_AFTER} acknowledged burst messages`, 60_000).catch(() => undefined);
    for (let i = 0; i < BURST && !killed && !alice.closed; i += ASK_EVERY) {
      let chunk = '';
      for (let j = i; j < i + ASK_EVERY; j++) chunk += `<message to='bob@localhost' type='chat' id='b${j}'><body>burst ${j}</body></message>`;
      await alice.write(`${chunk}<r xmlns='${NS_SM}'/>`).catch(() => undefined);
    }
    await watch;
    expect(killed, 'the whole burst was acknowledged before the kill: make it longer').toBeDefined();
    const exit = await killed;
    expect(exit).toMatchObject({ signal: 'SIGKILL' });
    const acked = Math.max(...acks(alice)) - base;
    expect(acked).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(acked, 'the kill must land mid-burst').toBeLessThan(BURST);
    alice.destroy();
    bob.destroy();

    const again = await startChild({ dir: child.dir });
    children.push(again);
    for (const user of ['alice', 'bob'] as const) {
      const w = await login(again, user);
      const items = await mamAll(w);
      await w.close();
      // Earlier history: the same items, ids and bytes as before the kill.
      expect(snapshot(items.slice(0, EARLIER))).toEqual(snapshot(before[user]));
      const burst = items.slice(EARLIER).map(bodyOf);
      // Every acknowledged message once, in order; the unacknowledged ones are a contiguous tail or absent.
      expect(burst.slice(0, acked), `${user}'s archive`).toEqual(Array.from({ length: acked }, (_, i) => `burst ${i}`));
      expect(burst, `${user}'s archive: nothing twice, nothing out of order`).toEqual(Array.from({ length: burst.length }, (_, i) => `burst ${i}`));
      expect(new Set(items.map((i) => i.id)).size).toBe(items.length);
    }
  }, 120_000);
});
