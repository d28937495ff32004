// Prosody's SQL storage on PostgreSQL, read through Clove's pool over `pg` (see ./sql-rows.ts).
import type { SqlSettings } from '../../config/sql.js';
import { SqlPool } from '../../storage/sql/pool.js';
import type { ArchiveRow, KeyvalRow, ProsodyRows } from './sql-rows.js';

/** Archive rows read per query. */
const ARCHIVE_PAGE = 1000;

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
    // Keyset pages of ARCHIVE_PAGE rows: however large the archives, one page is in memory.
    async *archive(host, stores) {
      let after: [string, string, string] = ['', '', '-1'];
      for (;;) {
        const r = await pool.query<ArchiveRow & { sort_id: string }>(
          'SELECT "sort_id", "user", "store", "key", "when", "with", "type", "value" FROM "prosodyarchive" WHERE "host" = $1 AND "store" = ANY($2::text[]) AND "user" <> \'\' ' +
            'AND ("store", "user", "sort_id") > ($3, $4, $5::bigint) ORDER BY "store", "user", "sort_id" LIMIT ' + ARCHIVE_PAGE,
          [host, stores, ...after],
        );
        for (const { sort_id: _, ...row } of r.rows) yield { ...row, when: Number(row.when) };
        const last = r.rows.at(-1);
        if (!last || r.rows.length < ARCHIVE_PAGE) return;
        after = [last.store, last.user, String(last.sort_id)];
      }
    },
    close: () => pool.end(),
  };
}
