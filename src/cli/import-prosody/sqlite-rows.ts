// Prosody's SQL storage on SQLite (driver = "SQLite3", Prosody's default), read through sql.js:
// SQLite compiled to WebAssembly, so no native module has to be built on the operator's machine.
// It opens a copy of the database in memory: the file is read once, whole, and never written.
//
// Prosody should be stopped first. Two checks make a live database fail with a clear message
// rather than import a half-written state: a journal beside the file (`-journal`, or `-wal` if
// someone switched the database to WAL) means a write is unfinished or was cut short by a crash,
// and a file whose size or modification time changed while it was read was written meanwhile.
import { readFile, stat } from 'node:fs/promises';
import { freemem } from 'node:os';
import type { BindParams, Database, SqlValue } from 'sql.js';
import { ProsodyDatabaseError, type ArchiveRow, type KeyvalRow, type ProsodyRows } from './sql-rows.js';

/** The largest database read (what node:fs reads into one buffer). */
export const SQLITE_IMPORT_FILE_MAX = 2 ** 31 - 1;
/**
 * Memory the import takes per byte of database: the file's bytes, sql.js's in-memory copy and
 * what SQLite and the import hold beside them (measured: 449 MiB at peak for a 135 MiB file,
 * bench/import-prosody-sql.mjs).
 */
export const SQLITE_IMPORT_MEMORY_FACTOR = 3.5;
/** Archive rows handed over at a time. */
const ARCHIVE_PAGE = 1000;
/** The first 16 bytes of every SQLite 3 database file. */
const SQLITE_MAGIC = 'SQLite format 3\0';

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).size;
  } catch {
    return undefined;
  }
}

/** The database's bytes, checked to be a whole, resting SQLite 3 database that fits in `availableBytes` of memory. */
async function readDatabase(file: string, availableBytes: number): Promise<Buffer> {
  let before;
  try {
    before = await stat(file);
  } catch {
    throw new ProsodyDatabaseError(`Prosody's SQLite database ${file} does not exist (sql.database, resolved against Prosody's data_path)`);
  }
  if (!before.isFile()) throw new ProsodyDatabaseError(`${file} is not a file`);
  if (before.size > SQLITE_IMPORT_FILE_MAX) {
    throw new ProsodyDatabaseError(`${file} is ${before.size} bytes, more than the ${SQLITE_IMPORT_FILE_MAX} this import reads: convert it to Prosody's files with prosody-migrator and import that directory`);
  }
  const needMiB = Math.ceil((before.size * SQLITE_IMPORT_MEMORY_FACTOR) / 2 ** 20);
  if (before.size * SQLITE_IMPORT_MEMORY_FACTOR > availableBytes) {
    throw new ProsodyDatabaseError(`${file} (${before.size} bytes) needs ~${needMiB} MiB of memory to import, more than the ${Math.floor(availableBytes / 2 ** 20)} MiB available: free memory, or convert it to Prosody's files with prosody-migrator and import that directory`);
  }
  for (const journal of [`${file}-journal`, `${file}-wal`]) {
    if (((await sizeOf(journal)) ?? 0) > 0) {
      throw new ProsodyDatabaseError(`${journal} holds an unfinished write: stop Prosody (or, after a crash, start and stop it once) and run the import again`);
    }
  }
  const bytes = await readFile(file);
  const after = await stat(file);
  if (after.size !== before.size || after.mtimeMs !== before.mtimeMs || after.ino !== before.ino) {
    throw new ProsodyDatabaseError(`${file} changed while it was read: stop Prosody and run the import again`);
  }
  if (bytes.subarray(0, SQLITE_MAGIC.length).toString('latin1') !== SQLITE_MAGIC) throw new ProsodyDatabaseError(`${file} is not a SQLite 3 database`);
  return bytes;
}

/** What this process may still take: the system's available memory, within a cgroup's limit (a container). */
function availableMemory(): number {
  const limit = process.constrainedMemory?.() ?? 0;
  return limit > 0 ? Math.min(freemem(), limit - process.memoryUsage.rss()) : freemem();
}

/** All rows of a query as objects (sql.js steps through a prepared statement). */
function select<T>(db: Database, sql: string, params: BindParams): T[] {
  const stmt = db.prepare(sql, params);
  try {
    const rows: T[] = [];
    while (stmt.step()) rows.push(stmt.getAsObject() as T);
    return rows;
  } finally {
    stmt.free();
  }
}

/** A text column: SQLite may hand back a number (a value stored with numeric affinity). */
function text(v: SqlValue): string {
  if (v === null) return '';
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : Buffer.from(v).toString('utf8');
}

/** `availableBytes`: the memory the import may take (what the system has available by default). */
export async function openSqliteRows(file: string, { availableBytes = availableMemory() }: { availableBytes?: number } = {}): Promise<ProsodyRows> {
  const bytes = await readDatabase(file, availableBytes);
  const { default: initSqlJs } = await import('sql.js');
  const SQL = await initSqlJs();
  let db: Database;
  try {
    db = new SQL.Database(bytes);
    db.exec('PRAGMA query_only = 1');
    db.exec('SELECT count(*) FROM sqlite_master'); // reads the schema: a damaged file fails here, named
  } catch (e) {
    throw new ProsodyDatabaseError(`${file}: ${(e as Error).message}`);
  }
  const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');
  const keyvalOf = (r: Record<string, SqlValue>): KeyvalRow => ({ user: text(r.user!), store: text(r.store!), key: text(r.key!), type: text(r.type!), value: text(r.value!) });
  return {
    label: `SQLite database ${file}`,
    async tables() {
      const names = new Set(select<{ name: string }>(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('prosody', 'prosodyarchive')", []).map((r) => r.name));
      return { keyval: names.has('prosody'), archive: names.has('prosodyarchive') };
    },
    async keyval(host, stores) {
      const rows = select<Record<string, SqlValue>>(
        db,
        `SELECT "user", "store", "key", "type", "value" FROM "prosody" WHERE "host" = ? AND "store" IN (${placeholders(stores.length)}) AND "user" <> '' ORDER BY "store", "user"`,
        [host, ...stores],
      );
      return rows.map(keyvalOf);
    },
    // Each user's count first, then the rows stepped one at a time in order, the older ones of an
    // archive over `archiveMax` skipped: no window query, whose sort SQLite would hold in memory
    // beside the database (peak RSS 749 against 449 MiB for a 135 MiB file).
    async archive(host, stores, archiveMax, page) {
      const where = `WHERE "host" = ? AND "store" IN (${placeholders(stores.length)}) AND "user" <> ''`;
      const totals = new Map<string, number>();
      for (const r of select<Record<string, SqlValue>>(db, `SELECT "store", "user", count(*) AS "n" FROM "prosodyarchive" ${where} GROUP BY "store", "user"`, [host, ...stores])) {
        totals.set(`${text(r.store!)}\0${text(r.user!)}`, Number(r.n));
      }
      const stmt = db.prepare(`SELECT "user", "store", "key", "when", "with", "type", "value" FROM "prosodyarchive" ${where} ORDER BY "store", "user", "sort_id"`, [host, ...stores]);
      try {
        let rows: ArchiveRow[] = [];
        let id = '';
        let seen = 0;
        while (stmt.step()) {
          const o = stmt.getAsObject();
          const r = keyvalOf(o);
          const rowId = `${r.store}\0${r.user}`;
          if (rowId !== id) (id = rowId), (seen = 0);
          const total = totals.get(id) ?? 0;
          if (r.store === 'archive' && total - seen++ > archiveMax) continue;
          rows.push({ ...r, when: Number(o.when), with: text(o.with!), total });
          if (rows.length === ARCHIVE_PAGE) await page(rows), (rows = []);
        }
        if (rows.length > 0) await page(rows);
      } finally {
        stmt.free();
      }
    },
    async close() {
      db.close();
    },
  };
}
