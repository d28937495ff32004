// The SQL backend's statements for PostgreSQL (./tables.ts), over the pool of ./pool.ts. An
// append is one statement that takes the owner's row lock, checks both quotas, gives the
// sequence number and time and inserts the item, so appends to one owner are ordered even
// across servers; a query reads in one REPEATABLE READ snapshot.
import type { ArchiveRow, ArchiveTables, KvMapTables } from './tables.js';
import type { Queryable, SqlPool } from './pool.js';

type Row = Omit<ArchiveRow, 'payload'> & { payload: Buffer };

/** The keyval and map statements over the pool `db()` gives. */
export function postgresKvMapTables(db: () => SqlPool): KvMapTables {
  return {
    readKv: async (host, store, user) => {
      const r = await db().query<{ value: string }>('SELECT value FROM clove_keyval WHERE host = $1 AND store = $2 AND username = $3', [host, store, user]);
      return r.rows[0]?.value ?? null;
    },
    writeKv: async (host, store, user, value) => {
      if (value === null) await db().query('DELETE FROM clove_keyval WHERE host = $1 AND store = $2 AND username = $3', [host, store, user]);
      else {
        await db().query(
          'INSERT INTO clove_keyval (host, store, username, value) VALUES ($1, $2, $3, $4) ON CONFLICT (host, store, username) DO UPDATE SET value = EXCLUDED.value',
          [host, store, user, value],
        );
      }
    },
    kvUsers: async (host, store) =>
      (await db().query<{ username: string }>('SELECT username FROM clove_keyval WHERE host = $1 AND store = $2', [host, store])).rows.map((row) => row.username),
    readMap: async (host, store, user) =>
      (await db().query<{ key: string; value: string }>('SELECT key, value FROM clove_map WHERE host = $1 AND store = $2 AND username = $3 ORDER BY seq', [host, store, user])).rows,
    writeMap: async (host, store, user, { replace, gone, up }) => {
      const statements: Array<(q: Queryable) => Promise<unknown>> = [];
      const who = [host, store, user];
      if (replace) statements.push((q) => q.query('DELETE FROM clove_map WHERE host = $1 AND store = $2 AND username = $3', who));
      else if (gone.length) statements.push((q) => q.query('DELETE FROM clove_map WHERE host = $1 AND store = $2 AND username = $3 AND key = ANY($4::text[])', [...who, gone]));
      if (up.length) {
        statements.push((q) =>
          q.query(
            `INSERT INTO clove_map (host, store, username, key, value)
             SELECT $1, $2, $3, k, v FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS t(k, v, n) ORDER BY n
             ON CONFLICT (host, store, username, key) DO UPDATE SET value = EXCLUDED.value`,
            [...who, up.map(([k]) => k), up.map(([, v]) => v)],
          ),
        );
      }
      if (statements.length === 1) await statements[0]!(db());
      else if (statements.length > 1) await db().transaction(async (q) => {
        for (const s of statements) await s(q);
      });
    },
    mapUsers: async (host, store) =>
      (await db().query<{ username: string }>('SELECT DISTINCT username FROM clove_map WHERE host = $1 AND store = $2', [host, store])).rows.map((row) => row.username),
  };
}

/** The archive statements over the pool `db()` gives. */
export function postgresArchiveTables(db: () => SqlPool): ArchiveTables {
  const who = (host: string, store: string, owner: string): string[] => [host, store, owner];
  return {
    ownerKey: async (host, store, owner, create) => {
      const r = create
        ? await db().query<{ id_key: Buffer }>(
          `INSERT INTO clove_archive_owner (host, store, owner, id_key) VALUES ($1, $2, $3, $4)
           ON CONFLICT (host, store, owner) DO UPDATE SET id_key = clove_archive_owner.id_key RETURNING id_key`,
          [host, store, owner, Buffer.from(create)],
        )
        : await db().query<{ id_key: Buffer }>('SELECT id_key FROM clove_archive_owner WHERE host = $1 AND store = $2 AND owner = $3', who(host, store, owner));
      return r.rows[0]?.id_key;
    },
    append: async (host, store, owner, a) => {
      const r = await db().query<{ seq: number }>(
        `WITH o AS (
           UPDATE clove_archive_owner SET next_seq = next_seq + 1, items = items + 1, bytes = bytes + $5,
             last_when = GREATEST(last_when, $6)
           WHERE host = $1 AND store = $2 AND owner = $3 AND items < $7 AND bytes + $5 <= $8
           RETURNING next_seq - 1 AS seq, last_when)
         INSERT INTO clove_archive (host, store, owner, seq, "when", "with", bare, kind, payload, size)
         SELECT $1, $2, $3, o.seq, o.last_when, $4, $9, $10, $11, $5 FROM o RETURNING seq`,
        [host, store, owner, a.with, a.size, a.when, a.maxItems, a.maxBytes, a.bare, a.kind, Buffer.from(a.payload.buffer, a.payload.byteOffset, a.payload.byteLength)],
      );
      return r.rows[0]?.seq;
    },
    counts: async (host, store, owner) =>
      (await db().query<{ items: number; bytes: number }>('SELECT items, bytes FROM clove_archive_owner WHERE host = $1 AND store = $2 AND owner = $3', who(host, store, owner))).rows[0],
    query: (host, store, owner, f) => {
      const values: unknown[] = who(host, store, owner);
      const where = ['host = $1', 'store = $2', 'owner = $3'];
      const param = (v: unknown): string => `$${values.push(v)}`;
      if (f.with) where.push(f.with.full ? `"with" = ${param(f.with.jid)}` : `bare = ${param(f.with.jid)}`);
      if (f.start !== undefined) where.push(`"when" >= ${param(f.start)}`);
      if (f.end !== undefined) where.push(`"when" <= ${param(f.end)}`);
      if (f.ids !== undefined) where.push(`seq = ANY(${param(f.ids)}::bigint[])`);
      const filter = where.join(' AND ');
      const a = param(f.after);
      const b = param(f.before);
      return db().transaction(async (t) => {
        const found = f.bounds.length
          ? (await t.query<{ seq: number }>('SELECT seq FROM clove_archive WHERE host = $1 AND store = $2 AND owner = $3 AND seq = ANY($4::bigint[])', [host, store, owner, f.bounds])).rows.map((r) => r.seq)
          : [];
        const c = await t.query<{ total: number; nfrom: number; nto: number }>(
          `SELECT count(*) AS total, count(*) FILTER (WHERE seq <= ${a}) AS nfrom, count(*) FILTER (WHERE seq < ${b}) AS nto FROM clove_archive WHERE ${filter}`,
          values,
        );
        const rows = f.limit > 0
          ? (await t.query<Row>(
            `SELECT seq, "when", "with", kind, payload FROM clove_archive WHERE ${filter} AND seq > ${a} AND seq < ${b}
             ORDER BY seq ${f.backwards ? 'DESC' : 'ASC'} LIMIT ${f.limit}`,
            values,
          )).rows
          : [];
        return { found, ...c.rows[0]!, rows: f.backwards ? rows.reverse() : rows };
      }, true);
    },
    get: async (host, store, owner, seq) =>
      (await db().query<Row>('SELECT seq, "when", "with", kind, payload FROM clove_archive WHERE host = $1 AND store = $2 AND owner = $3 AND seq = $4', [host, store, owner, seq])).rows[0],
    metadata: async (host, store, owner) => {
      const r = await db().query<{ items: number; bytes: number; id_key: Buffer; fseq: number | null; fwhen: number; lseq: number; lwhen: number }>(
        `SELECT o.items, o.bytes, o.id_key, f.seq AS fseq, f."when" AS fwhen, l.seq AS lseq, l."when" AS lwhen
         FROM clove_archive_owner o
         LEFT JOIN LATERAL (SELECT seq, "when" FROM clove_archive a WHERE a.host = o.host AND a.store = o.store AND a.owner = o.owner ORDER BY seq LIMIT 1) f ON true
         LEFT JOIN LATERAL (SELECT seq, "when" FROM clove_archive a WHERE a.host = o.host AND a.store = o.store AND a.owner = o.owner ORDER BY seq DESC LIMIT 1) l ON true
         WHERE o.host = $1 AND o.store = $2 AND o.owner = $3`,
        who(host, store, owner),
      );
      const row = r.rows[0];
      if (!row || row.fseq === null) return undefined;
      return { items: row.items, bytes: row.bytes, idKey: row.id_key, first: { seq: row.fseq, when: row.fwhen }, last: { seq: row.lseq, when: row.lwhen } };
    },
    deleteOwner: (host, store, owner) =>
      db().transaction(async (t) => {
        await t.query('DELETE FROM clove_archive WHERE host = $1 AND store = $2 AND owner = $3', who(host, store, owner));
        await t.query('DELETE FROM clove_archive_owner WHERE host = $1 AND store = $2 AND owner = $3', who(host, store, owner));
      }),
    deleteOlderThan: (host, store, before) =>
      db().transaction(async (t) => {
        const r = await t.query<{ n: number; emptied: string[] }>(
          `WITH d AS (DELETE FROM clove_archive WHERE host = $1 AND store = $2 AND "when" < $3 RETURNING owner, size),
           g AS (SELECT owner, count(*) AS n, sum(size) AS b FROM d GROUP BY owner),
           u AS (UPDATE clove_archive_owner o SET items = o.items - g.n, bytes = o.bytes - g.b FROM g
                 WHERE o.host = $1 AND o.store = $2 AND o.owner = g.owner RETURNING o.owner, o.items)
           SELECT (SELECT count(*) FROM d) AS n, array(SELECT owner FROM u WHERE items = 0) AS emptied`,
          [host, store, before],
        );
        const { n, emptied } = r.rows[0]!;
        if (emptied.length) await t.query('DELETE FROM clove_archive_owner WHERE host = $1 AND store = $2 AND owner = ANY($3::text[]) AND items = 0', [host, store, emptied]);
        return { deleted: n, emptied };
      }),
    truncate: (host, store, owner, keep) =>
      db().transaction(async (t) => {
        const o = await t.query<{ items: number }>('SELECT items FROM clove_archive_owner WHERE host = $1 AND store = $2 AND owner = $3 FOR UPDATE', who(host, store, owner));
        const n = Math.max(0, (o.rows[0]?.items ?? 0) - keep);
        if (n === 0) return { deleted: 0, emptied: false };
        const r = await t.query<{ items: number; n: number }>(
          `WITH d AS (DELETE FROM clove_archive WHERE host = $1 AND store = $2 AND owner = $3 AND seq IN
             (SELECT seq FROM clove_archive WHERE host = $1 AND store = $2 AND owner = $3 ORDER BY seq LIMIT $4) RETURNING size)
           UPDATE clove_archive_owner SET items = items - (SELECT count(*) FROM d), bytes = bytes - (SELECT coalesce(sum(size), 0) FROM d)
           WHERE host = $1 AND store = $2 AND owner = $3 RETURNING items, (SELECT count(*) FROM d) AS n`,
          [host, store, owner, n],
        );
        const emptied = r.rows[0]!.items === 0;
        if (emptied) await t.query('DELETE FROM clove_archive_owner WHERE host = $1 AND store = $2 AND owner = $3 AND items = 0', who(host, store, owner));
        return { deleted: r.rows[0]!.n, emptied };
      }),
    owners: async (host, store) =>
      (await db().query<{ owner: string }>('SELECT owner FROM clove_archive_owner WHERE host = $1 AND store = $2 AND items > 0', [host, store])).rows.map((row) => row.owner),
  };
}
