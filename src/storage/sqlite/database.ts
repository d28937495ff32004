// SQLite as the SQL backend's database (../sql/backend.ts): one file, its statements run on a
// worker thread (./connection.ts), the tables of ./schema.ts and the statements of ./tables.ts.
import type { SqlDatabase } from '../sql/backend.js';
import { SqliteConnection, type SqliteOptions } from './connection.js';
import { migrateSqlite } from './schema.js';
import { sqliteArchiveTables, sqliteKvMapTables } from './tables.js';

export function sqliteDatabase(options: SqliteOptions): SqlDatabase {
  const db = new SqliteConnection(options);
  return {
    kvMaps: sqliteKvMapTables(db),
    archives: sqliteArchiveTables(db),
    migrate: async () => {
      await db.open();
      await migrateSqlite(db);
    },
    close: async () => {
      db.close();
    },
  };
}
