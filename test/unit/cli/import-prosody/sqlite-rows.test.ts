// Prosody's SQLite database as `clove import-prosody --from-sql` reads it (sql.js): the rows of
// one host's stores in Prosody's order, and a clear refusal of what is not a whole, resting
// SQLite database. (test/e2e/migration-sql.test.ts reads one a real Prosody wrote.)
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import initSqlJs from 'sql.js';
import { writeProsodySqlite } from '../../../helpers/prosody-sqlite.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProsodyDatabaseError, type ArchiveRow } from '../../../../src/cli/import-prosody/sql-rows.js';
import { openSqliteRows, SQLITE_IMPORT_FILE_MAX } from '../../../../src/cli/import-prosody/sqlite-rows.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clove-sqlite-rows-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A database with Prosody's two tables and these statements run. */
async function prosodyDb(name: string, statements: string[]): Promise<string> {
  const file = join(dir, name);
  await writeProsodySqlite(file, { statements });
  return file;
}

describe('openSqliteRows', () => {
  it("returns one host's rows of the asked stores, ordered as Prosody stored them", async () => {
    const file = await prosodyDb('rows.sqlite', [
      `INSERT INTO prosody VALUES ('a.test', 'bob', 'roster', 'x@y', 'json', '{}'), ('a.test', 'alice', 'roster', 'b@y', 'json', '{}'),
        ('a.test', 'alice', 'accounts', 'iteration_count', 'number', 10000), ('b.test', 'alice', 'roster', 'c@y', 'json', '{}'),
        ('a.test', 'alice', 'cron', 'k', 'string', 'v'), ('a.test', '', 'roster', 'k', 'string', 'host-wide')`,
      `INSERT INTO prosodyarchive ("host", "user", "store", "key", "when", "with", "type", "value") VALUES
        ('a.test', 'alice', 'archive', 'k2', 200, 'bob@a.test', 'xml', '<message/>'), ('a.test', 'alice', 'archive', 'k1', 100, 'bob@a.test', 'xml', '<message/>'),
        ('a.test', 'alice', 'offline', 'k3', 300, 'bob@a.test', 'xml', '<message/>'), ('b.test', 'alice', 'archive', 'k4', 400, 'x@b.test', 'xml', '<message/>')`,
    ]);
    const rows = await openSqliteRows(file);
    try {
      expect(rows.label).toBe(`SQLite database ${file}`);
      expect(await rows.tables()).toEqual({ keyval: true, archive: true });
      const kv = await rows.keyval('a.test', ['accounts', 'roster']);
      expect(kv.map((r) => [r.store, r.user, r.key])).toEqual([['accounts', 'alice', 'iteration_count'], ['roster', 'alice', 'b@y'], ['roster', 'bob', 'x@y']]);
      // A number stored by SQLite's numeric affinity comes back as Prosody's text.
      expect(kv[0]!.value).toBe('10000');
      const archived = async (max: number) => {
        const ar: ArchiveRow[] = [];
        await rows.archive('a.test', ['archive', 'offline'], max, async (page) => void ar.push(...page));
        return ar.map((r) => [r.store, r.key, r.when, r.with, r.total]);
      };
      expect(await archived(10)).toEqual([['archive', 'k2', 200, 'bob@a.test', 2], ['archive', 'k1', 100, 'bob@a.test', 2], ['offline', 'k3', 300, 'bob@a.test', 1]]);
      // Of the archive store only the newest (the last stored) up to the most Clove keeps; offline whole.
      expect(await archived(1)).toEqual([['archive', 'k1', 100, 'bob@a.test', 2], ['offline', 'k3', 300, 'bob@a.test', 1]]);
    } finally {
      await rows.close();
    }
  });

  it('names the file when it is damaged', async () => {
    const damaged = await prosodyDb('damaged.sqlite', ["INSERT INTO prosody VALUES ('a.test', 'alice', 'roster', 'k', 'string', 'v')"]);
    const bytes = await readFile(damaged);
    bytes.fill(0x55, 100, bytes.length); // the header stays, the pages go
    await writeFile(damaged, bytes);
    const err = await openSqliteRows(damaged).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ProsodyDatabaseError);
    expect(String(err)).toContain(`${damaged}: `);
  });

  it('says when the archive table is missing', async () => {
    const SQL = await initSqlJs();
    const db = new SQL.Database();
    db.run('CREATE TABLE "prosody" ("host" TEXT, "user" TEXT, "store" TEXT, "key" TEXT, "type" TEXT, "value" TEXT)');
    const file = join(dir, 'no-archive.sqlite');
    await writeFile(file, db.export());
    const rows = await openSqliteRows(file);
    expect(await rows.tables()).toEqual({ keyval: true, archive: false });
    await rows.close();
  });

  it('refuses a missing file, a file that is not SQLite, a database with an unfinished write, and one too large to read', async () => {
    const refusal = (file: string) => openSqliteRows(file).then(() => 'opened', (e: unknown) => (e instanceof ProsodyDatabaseError ? e.message : `other: ${String(e)}`));
    expect(await refusal(join(dir, 'nothing.sqlite'))).toMatch(/nothing\.sqlite does not exist/);
    const text = join(dir, 'text.sqlite');
    await writeFile(text, 'return { password = "x" };\n');
    expect(await refusal(text)).toBe(`${text} is not a SQLite 3 database`);

    const busy = await prosodyDb('busy.sqlite', []);
    await writeFile(`${busy}-journal`, '');
    expect(await refusal(busy)).toBe('opened'); // an empty journal is no unfinished write
    await writeFile(`${busy}-journal`, Buffer.alloc(512, 1));
    expect(await refusal(busy)).toMatch(/busy\.sqlite-journal holds an unfinished write: stop Prosody/);
    await rm(`${busy}-journal`);
    await writeFile(`${busy}-wal`, Buffer.alloc(512, 1));
    expect(await refusal(busy)).toMatch(/busy\.sqlite-wal holds an unfinished write/);

    // Refused before it is read when the machine lacks the memory (os.freemem(): MemAvailable).
    const small = await prosodyDb('small.sqlite', []);
    const size = (await stat(small)).size;
    const lacking = await openSqliteRows(small, { availableBytes: size * 3 }).then(() => 'opened', (e: unknown) => String(e));
    expect(lacking).toMatch(/small\.sqlite \(\d+ bytes\) needs ~\d+ MiB of memory to import, more than the 0 MiB available: free memory, or convert it/);
    expect(await openSqliteRows(small, { availableBytes: size * 4 }).then(async (r) => (await r.close(), 'opened'))).toBe('opened');

    const huge = join(dir, 'huge.sqlite');
    await writeFile(huge, '');
    await truncate(huge, SQLITE_IMPORT_FILE_MAX + 1); // sparse: takes no disk
    expect(await refusal(huge)).toMatch(/more than the 2147483647 this import reads: convert it to Prosody's files with prosody-migrator/);
  });
});
