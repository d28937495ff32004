// A Prosody SQL storage on SQLite for the import tests: mod_storage_sql's two tables (Prosody
// 0.12's columns), filled by SQL statements or rows, written with sql.js.
import { writeFile } from 'node:fs/promises';
import initSqlJs from 'sql.js';

/** An archived item: [host, user, store, key, when, with, type, value]. */
export type ArchiveValues = [string, string, string, string, number, string, string, string];

/** Write `file` with Prosody's tables, after running `statements` and inserting `archive` rows (in sort_id order). */
export async function writeProsodySqlite(file: string, { statements = [], archive = [] }: { statements?: string[]; archive?: Iterable<ArchiveValues> }): Promise<void> {
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  try {
    db.run('CREATE TABLE "prosody" ("host" TEXT, "user" TEXT, "store" TEXT, "key" TEXT, "type" TEXT, "value" MEDIUMTEXT)');
    db.run('CREATE TABLE "prosodyarchive" ("sort_id" INTEGER PRIMARY KEY AUTOINCREMENT, "host" TEXT, "user" TEXT, "store" TEXT, "key" TEXT, "when" INTEGER, "with" TEXT, "type" TEXT, "value" MEDIUMTEXT)');
    db.run('BEGIN');
    for (const s of statements) db.run(s);
    const insert = db.prepare('INSERT INTO "prosodyarchive" ("host", "user", "store", "key", "when", "with", "type", "value") VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    for (const row of archive) insert.run(row);
    insert.free();
    db.run('COMMIT');
    await writeFile(file, db.export());
  } finally {
    db.close();
  }
}
