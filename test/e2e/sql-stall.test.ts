// A real `clove start` child on PostgreSQL whose commits stall: another connection holds an
// EXCLUSIVE lock on clove_map and clove_keyval (reads go on, writes wait), as a database that is
// slow or unreachable would. Clients that keep changing their private XML and roster get
// resource-constraint (type wait) replies once the changes waiting for a commit pass
// storage_pending_bytes, at once and without the server crashing; its RSS stays bounded; once the
// lock goes every change that was acknowledged is in the database, and changes are taken again.
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { freshDatabase, sqlConfigLine } from '../helpers/postgres.js';
import { stanzaErrorCondition, Wire, type El } from '../helpers/wire.js';
import type { PostgresOptions as SqlOptions } from '../../src/storage/sql/pool.js';

const PASSWORD = 'stall-pass';
const USERS = 12;
const ROUNDS = 30;
/** Characters of private XML per change (five fit in the 512 KiB bound); each roster holds ~60 KB. */
const PAYLOAD = 100 * 1024;
/** An item in 60 groups of 1,000 characters: every roster change rewrites ~60 KB. */
const BIG_ITEM = `<item jid='big@localhost'>${Array.from({ length: 60 }, (_, i) => `<group>${String(i).padStart(1000, 'g')}</group>`).join('')}</item>`;
const children: ChildServer[] = [];

afterAll(async () => {
  for (const c of children) {
    await c.kill('SIGKILL');
    await removeChildDir(c.dir);
  }
});

/** A client of the test database. */
async function client(db: SqlOptions): Promise<pg.Client> {
  const c = new pg.Client({ host: db.host, port: db.port, user: db.username, password: db.password, database: db.database });
  await c.connect();
  return c;
}

/** The reply to `iq`, or undefined when none came within `ms` (the change waits for its commit). */
async function replyWithin(reply: Promise<El>, ms: number): Promise<El | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  try {
    return await Promise.race([reply, late]);
  } finally {
    clearTimeout(timer);
  }
}

const privateSet = (marker: string, size: number): string =>
  `<iq type='set'><query xmlns='jabber:iq:private'><data xmlns='clove:test'>${marker}${'p'.repeat(size)}</data></query></iq>`;
const rosterSet = (marker: string): string =>
  `<iq type='set'><query xmlns='jabber:iq:roster'><item jid='friend@localhost' name='${marker}'/></query></iq>`;

it('refuses changes past storage_pending_bytes while commits stall, stays small, and commits everything acknowledged', async () => {
  const db = await freshDatabase();
  const child = await startChild({
    extra: [
      sqlConfigLine(db),
      'sql_pool_size = 32', // the stalled writes hold connections; reads need some too
      'storage_pending_bytes_per_user = 65536',
      'storage_pending_bytes = 524288',
      'limits = { c2s = { rate = "100mb/s"; burst = "2s" } }',
    ].join('\n'),
  });
  children.push(child);
  const names = Array.from({ length: USERS }, (_, i) => `u${i}`);
  await addUsers(child.configPath, names.map((n) => [`${n}@localhost`, PASSWORD]));
  const wires = await Promise.all(names.map((n) => Wire.login({ port: child.port, username: n, password: PASSWORD, resource: 'r' })));
  // Each user's private store and roster exist before the stall, the roster ~60 KB.
  for (const w of wires) {
    expect((await w.iq(privateSet('start', 10))).attrs.type).toBe('result');
    expect((await w.iq(`<iq type='set'><query xmlns='jabber:iq:roster'>${BIG_ITEM}</query></iq>`)).attrs.type).toBe('result');
  }
  const rssBefore = await child.rss();

  const locker = await client(db);
  await locker.query('BEGIN');
  await locker.query('LOCK TABLE clove_map, clove_keyval IN EXCLUSIVE MODE');
  let locked = true;
  try {
    // Every user changes its private XML and roster in turn until a change waits for its commit
    // (a stream handles one stanza at a time, so its next change would wait behind it).
    let refused = 0;
    const waiting: Array<{ user: number; kind: 'private' | 'roster'; marker: string; reply: Promise<El> }> = [];
    await Promise.all(wires.map(async (w, user) => {
      for (let round = 0; round < ROUNDS; round++) {
        const kind = round % 2 === 0 ? 'private' : 'roster';
        const marker = `m-${user}-${round}-`;
        const reply = w.iq(kind === 'private' ? privateSet(marker, PAYLOAD) : rosterSet(marker), 60_000);
        const r = await replyWithin(reply, 5000);
        if (!r) {
          waiting.push({ user, kind, marker, reply });
          return;
        }
        expect(r.attrs.type, r.toString().slice(0, 300)).toBe('error');
        expect(stanzaErrorCondition(r)).toBe('resource-constraint');
        expect(r.getChild('error')?.attrs.type).toBe('wait');
        refused++;
      }
    }));
    const rssAfter = await child.rss();
    console.log(`refused ${refused} changes, ${waiting.length} wait for a commit; RSS ${(rssBefore / 2 ** 20).toFixed(1)} -> ${(rssAfter / 2 ** 20).toFixed(1)} MiB`);
    // 512 KiB of changes wait at most: five or so users' first change waits, every other user
    // is refused in every round (some ~15 MiB), and memory stays put.
    expect(waiting.length).toBeGreaterThan(0);
    expect(waiting.length).toBeLessThan(USERS);
    expect(refused).toBe((USERS - waiting.length) * ROUNDS);
    expect(rssAfter - rssBefore).toBeLessThan(48 * 2 ** 20);

    await locker.query('COMMIT');
    locked = false;
    for (const wt of waiting) expect((await wt.reply).attrs.type).toBe('result');
    // Drained: every user's next change is taken.
    for (const [user, w] of wires.entries()) expect((await w.iq(rosterSet(`after-${user}-`))).attrs.type).toBe('result');

    // Acknowledged means committed: each waiting change (the last private one a user had
    // acknowledged, if it was private) and each roster change made after are in the tables.
    const lastPrivate = new Map(waiting.filter((wt) => wt.kind === 'private').map((wt) => [wt.user, wt.marker]));
    for (const [user] of wires.entries()) {
      const priv = await locker.query<{ value: string }>("SELECT value FROM clove_map WHERE store = 'private' AND username = $1", [`u${user}`]);
      const expected = lastPrivate.get(user) ?? 'start';
      expect(priv.rows.map((r) => r.value.includes(expected)), `u${user}`).toEqual([true]);
      const roster = await locker.query<{ value: string }>("SELECT value FROM clove_keyval WHERE store = 'roster' AND username = $1", [`u${user}`]);
      expect(roster.rows[0]?.value ?? '', `u${user}`).toContain(`after-${user}-`);
    }
    expect(child.stderr()).not.toMatch(/unhandled|uncaught/i);
    await Promise.all(wires.map((w) => w.close()));
  } finally {
    if (locked) await locker.query('ROLLBACK').catch(() => undefined);
    await locker.end();
  }
}, 120_000);
