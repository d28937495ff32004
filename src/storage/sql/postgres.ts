// PostgreSQL as the SQL backend's database: a bounded pool (./pool.ts), the schema of
// ./schema.ts and the statements of ./postgres-tables.ts. After close, reads go through one
// short-lived connection that does not hold the process open.
import { SqlPool, type PostgresOptions } from './pool.js';
import { migrate } from './schema.js';
import { postgresArchiveTables, postgresKvMapTables } from './postgres-tables.js';
import type { SqlDatabase } from './backend.js';

export function postgresDatabase(options: PostgresOptions): SqlDatabase {
  let pool = new SqlPool(options);
  const db = (): SqlPool => pool;
  return {
    kvMaps: postgresKvMapTables(db),
    archives: postgresArchiveTables(db),
    migrate: async () => {
      await migrate(pool);
    },
    close: async () => {
      const old = pool;
      pool = new SqlPool({ ...options, poolSize: 1 }, true);
      await old.end();
    },
  };
}
