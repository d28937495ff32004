// Prosody's SQL storage on PostgreSQL, read through Clove's pool over `pg` (see ./sql-rows.ts).
import type { PostgresSettings } from '../../config/sql.js';
import { SqlPool } from '../../storage/sql/pool.js';
import type { ArchiveRow, KeyvalRow, ProsodyRows } from './sql-rows.js';

/**
 * The archive query: of the 'archive' store each user's newest rows up to $3, every other store
 * whole, with each row how many its store and user have in all (window functions: PostgreSQL
 * sorts on the server).
 */
function archiveQuery(p: { host: string; stores: string; max: string }): string {
  return (
    'SELECT "user", "store", "key", "when", "with", "type", "value", "total" FROM (' +
    'SELECT "sort_id", "user", "store", "key", "when", "with", "type", "value", ' +
    'ROW_NUMBER() OVER (PARTITION BY "store", "user" ORDER BY "sort_id" DESC) AS "rn", COUNT(*) OVER (PARTITION BY "store", "user") AS "total" ' +
    `FROM "prosodyarchive" WHERE "host" = ${p.host} AND "store" IN (${p.stores}) AND "user" <> ''` +
    `) AS "a" WHERE "rn" <= ${p.max} OR "store" <> 'archive' ORDER BY "store", "user", "sort_id"`
  );
}

/** Archive rows read per query. */
const ARCHIVE_PAGE = 1000;

export function openPostgresRows(sql: PostgresSettings): ProsodyRows {
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
    // One query sorted once, read through a cursor ARCHIVE_PAGE rows at a time in a read-only
    // transaction (one snapshot): however large the archives, one page is in memory.
    async archive(host, stores, archiveMax, page) {
      await pool.transaction(async (q) => {
        // The first FETCH sorts the whole table: longer, on a large server, than a timeout the
        // role or database may set. An import is stopped with Ctrl-C instead.
        await q.query('SET LOCAL statement_timeout = 0');
        await q.query(`DECLARE prosody_archive NO SCROLL CURSOR FOR ${archiveQuery({ host: '$1', stores: 'SELECT unnest($2::text[])', max: '$3' })}`, [host, stores, archiveMax]);
        for (;;) {
          const r = await q.query<ArchiveRow>(`FETCH ${ARCHIVE_PAGE} FROM prosody_archive`);
          if (r.rows.length > 0) await page(r.rows.map((row) => ({ ...row, when: Number(row.when), total: Number(row.total) })));
          if (r.rows.length < ARCHIVE_PAGE) return;
        }
      }, true);
    },
    close: () => pool.end(),
  };
}
