// A real `clove start` child on each storage backend (files, PostgreSQL, SQLite): accounts made
// with `clove adduser`, a login, a roster item, a message to an offline contact and the archive,
// all read back after a restart. On PostgreSQL and SQLite the rows are checked in the database
// itself, so the test cannot pass with the data anywhere else.
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { match, Wire } from '../helpers/wire.js';
import { mamAll } from '../helpers/mam.js';
import { CHILD_STORAGES, SQLITE_TEST_FILE, testPostgres } from '../helpers/postgres.js';

const PASSWORD = 'sql-pass';
const children: ChildServer[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const c of children) await c.kill('SIGKILL');
  for (const d of dirs) await removeChildDir(d);
});

const TABLES = ['clove_keyval', 'clove_map', 'clove_archive'];

/** Rows per table in the SQLite file of a child's data directory (read-only, beside the running server). */
function sqliteRowCounts(dataPath: string): Record<string, number> {
  const db = new Database(path.join(dataPath, SQLITE_TEST_FILE), { readonly: true, fileMustExist: true });
  try {
    return Object.fromEntries(TABLES.map((t) => [t, (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n]));
  } finally {
    db.close();
  }
}

/** Rows per table in the database the config lines name. */
async function rowCounts(extra: string): Promise<Record<string, number>> {
  const t = testPostgres();
  const database = /database = "([^"]+)"/.exec(extra)![1]!;
  const c = new pg.Client({ host: t.host, port: t.port, user: t.username, password: t.password, database });
  await c.connect();
  try {
    const out: Record<string, number> = {};
    for (const table of TABLES) {
      out[table] = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);
    }
    return out;
  } finally {
    await c.end();
  }
}

describe.each(CHILD_STORAGES)('%s storage', (name, storageLines) => {
  it('logs in; roster, offline messages and the archive survive a restart', async () => {
    const extra = await storageLines();
    const child = await startChild(extra ? { extra } : {});
    children.push(child);
    dirs.push(child.dir);
    await addUsers(child.configPath, [['alice@localhost', PASSWORD], ['bob@localhost', PASSWORD]]);
    const alice = await Wire.login({ port: child.port, username: 'alice', password: PASSWORD, resource: 'a' });
    const set = await alice.iq(`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'><group>Friends</group></item></query></iq>`);
    expect(set.attrs.type, set.toString()).toBe('result');
    for (let i = 0; i < 5; i++) alice.send(`<message to='bob@localhost' type='chat' id='m${i}'><body>hello ${i}</body></message>`);
    // An iq after the messages: its answer comes once they were handled (stored offline and archived).
    await alice.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect((await mamAll(alice)).map((m) => m.message.getChildText('body'))).toEqual(['hello 0', 'hello 1', 'hello 2', 'hello 3', 'hello 4']);
    await alice.close();
    if (name !== 'file') {
      const rows = name === 'sqlite' ? sqliteRowCounts(child.dataPath) : await rowCounts(extra);
      expect(rows.clove_keyval).toBeGreaterThanOrEqual(3); // two accounts, a roster, the offline messages…
      expect(rows.clove_archive).toBe(10); // each message in alice's and bob's archive
      expect(child.logs().some((l) => l.msg.startsWith(name === 'sqlite' ? 'storage: SQLite database' : 'storage: PostgreSQL database'))).toBe(true);
      expect(child.stderr()).not.toContain('clove-test-password');
    }
    await child.kill('SIGTERM');

    const again = await startChild({ dir: child.dir });
    children.push(again);
    const bob = await Wire.login({ port: again.port, username: 'bob', password: PASSWORD, resource: 'b' });
    const offline = bob.waitFor(match('message', { id: 'm4' }), 20_000);
    bob.send('<presence/>');
    await offline;
    const bodies = bob.received.filter((e) => e.name === 'message').map((e) => e.getChildText('body'));
    expect(bodies).toEqual(['hello 0', 'hello 1', 'hello 2', 'hello 3', 'hello 4']);
    expect((await mamAll(bob)).map((m) => m.message.getChildText('body'))).toEqual(bodies);
    await bob.close();
    const alice2 = await Wire.login({ port: again.port, username: 'alice', password: PASSWORD, resource: 'a2' });
    const roster = await alice2.iq(`<iq type='get'><query xmlns='jabber:iq:roster'/></iq>`);
    const item = roster.getChild('query', 'jabber:iq:roster')?.getChildren('item') ?? [];
    expect(item.map((i) => [i.attrs.jid, i.attrs.name, i.getChildText('group')])).toEqual([['bob@localhost', 'Bob', 'Friends']]);
    await alice2.close();
  }, 60_000);
});
