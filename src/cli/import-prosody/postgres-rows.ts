// Prosody's SQL storage on PostgreSQL, read through Clove's pool over `pg` (see ./sql-rows.ts).
import type { SqlSettings } from '../../config/sql.js';
import { SqlPool } from '../../storage/sql/pool.js';
import type { ArchiveRow, KeyvalRow, ProsodyRows } from './sql-rows.js';

export function openPostgresRows(sql: SqlSettings): ProsodyRows {
  const pool = new SqlPool(sql);
  return {
    label: `PostgreSQL database ${sql.database}`,
    async tables() {
      const r = await pool.query<{ p: string | null; a: string | null }>("SELECT to_regclass('prosody')::text AS p, to_regclass('prosodyarchive')::text AS a");
      return { keyval: !!r.rows[0]?.p, archive: !!r.rows[0]?.a };
    },
    async keyval(host, stores) {
      const r = await pool.query<KeyvalRow>(
        'SELECT "user", "store", "key", "type", "value" FROM "prosody" WHERE "host" = $1 AND "store" = ANY($2::text[]) AND "user" <> \'\' ORDER BY "store", "user"',
        [host, stores],
      );
      return r.rows;
    },
    async archive(host, stores) {
      const r = await pool.query<ArchiveRow>(
        'SELECT "user", "store", "key", "when", "with", "type", "value" FROM "prosodyarchive" WHERE "host" = $1 AND "store" = ANY($2::text[]) AND "user" <> \'\' ORDER BY "store", "user", "sort_id"',
        [host, stores],
      );
      return r.rows.map((row) => ({ ...row, when: Number(row.when) }));
    },
    close: () => pool.end(),
  };
}
