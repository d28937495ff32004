// The SQL backend's statements for SQLite (../sql/tables.ts), run by the worker of
// ./connection.ts. Each method is one job: its statements run in one transaction, and no other
// statement runs between them, so an append (owner row updated under the quotas,
// then the item inserted only if that update happened: `changes() > 0`) is atomic. Lists of
// numbers travel as JSON (`json_each`); a list of keys is one statement per key.
import type { ArchiveRow, ArchiveTables, KvMapTables } from '../sql/tables.js';
import type { SqliteConnection, Step, StepResult } from './connection.js';

type Rows<T> = T[];
const rows = <T>(r: StepResult | undefined): Rows<T> => (Array.isArray(r) ? (r as T[]) : []);
const changes = (r: StepResult | undefined): number => (typeof r === 'number' ? r : 0);

/** The keyval and map statements. */
export function sqliteKvMapTables(db: SqliteConnection): KvMapTables {
  const who = (host: string, store: string, user: string): Record<string, string> => ({ host, store, user });
  const read = async <T>(sql: string, params: Record<string, unknown>): Promise<T[]> => rows<T>((await db.run([{ sql, params }], false))[0]);
  return {
    readKv: async (host, store, user) =>
      (await read<{ value: string }>('SELECT value FROM clove_keyval WHERE host = @host AND store = @store AND username = @user', who(host, store, user)))[0]?.value ?? null,
    writeKv: async (host, store, user, value) => {
      await db.run([
        value === null
          ? { sql: 'DELETE FROM clove_keyval WHERE host = @host AND store = @store AND username = @user', params: who(host, store, user) }
          : {
            sql: 'INSERT INTO clove_keyval (host, store, username, value) VALUES (@host, @store, @user, @value) ON CONFLICT (host, store, username) DO UPDATE SET value = excluded.value',
            params: { ...who(host, store, user), value },
          },
      ], true);
    },
    kvUsers: async (host, store) => (await read<{ username: string }>('SELECT username FROM clove_keyval WHERE host = @host AND store = @store', { host, store })).map((r) => r.username),
    readMap: (host, store, user) => read<{ key: string; value: string }>('SELECT key, value FROM clove_map WHERE host = @host AND store = @store AND username = @user ORDER BY rowid', who(host, store, user)),
    writeMap: async (host, store, user, { replace, gone, up }) => {
      const w = who(host, store, user);
      const steps: Step[] = [];
      if (replace) steps.push({ sql: 'DELETE FROM clove_map WHERE host = @host AND store = @store AND username = @user', params: w });
      for (const key of gone) steps.push({ sql: 'DELETE FROM clove_map WHERE host = @host AND store = @store AND username = @user AND key = @key', params: { ...w, key } });
      for (const [key, value] of up) {
        steps.push({
          sql: 'INSERT INTO clove_map (host, store, username, key, value) VALUES (@host, @store, @user, @key, @value) ON CONFLICT (host, store, username, key) DO UPDATE SET value = excluded.value',
          params: { ...w, key, value },
        });
      }
      if (steps.length) await db.run(steps, true);
    },
    mapUsers: async (host, store) => (await read<{ username: string }>('SELECT DISTINCT username FROM clove_map WHERE host = @host AND store = @store', { host, store })).map((r) => r.username),
  };
}

const OWNER = 'host = @host AND store = @store AND owner = @owner';
const ROW = 'SELECT seq, "when", "with", kind, payload FROM clove_archive';
/** Rows one expiry transaction deletes at most. */
const EXPIRY_CHUNK = 5000;

/** Steps that fill the connection's temp table clove_victims with the rows `select` (rowid, owner, size) names. */
function victims(select: string, params: Record<string, unknown>): Step[] {
  return [
    { sql: 'CREATE TEMP TABLE IF NOT EXISTS clove_victims (id integer PRIMARY KEY, owner text NOT NULL, size integer NOT NULL)' },
    { sql: 'DELETE FROM temp.clove_victims' },
    { sql: `INSERT INTO temp.clove_victims (id, owner, size) ${select}`, params },
  ];
}

/** The archive statements. */
export function sqliteArchiveTables(db: SqliteConnection): ArchiveTables {
  const who = (host: string, store: string, owner: string): Record<string, string> => ({ host, store, owner });
  const read = async <T>(sql: string, params: Record<string, unknown>): Promise<T[]> => rows<T>((await db.run([{ sql, params }], false))[0]);
  return {
    ownerKey: async (host, store, owner, create) => {
      const r = create
        ? rows<{ id_key: Uint8Array }>((await db.run([{
          sql: `INSERT INTO clove_archive_owner (host, store, owner, id_key) VALUES (@host, @store, @owner, @key)
                ON CONFLICT (host, store, owner) DO UPDATE SET id_key = clove_archive_owner.id_key RETURNING id_key`,
          params: { ...who(host, store, owner), key: create },
        }], true))[0])
        : await read<{ id_key: Uint8Array }>(`SELECT id_key FROM clove_archive_owner WHERE ${OWNER}`, who(host, store, owner));
      return r[0]?.id_key;
    },
    append: async (host, store, owner, a) => {
      const p = { ...who(host, store, owner), with: a.with, bare: a.bare, kind: a.kind, payload: a.payload, size: a.size, when: a.when, maxItems: a.maxItems, maxBytes: a.maxBytes };
      const [, inserted] = await db.run([
        {
          sql: `UPDATE clove_archive_owner SET next_seq = next_seq + 1, items = items + 1, bytes = bytes + @size, last_when = max(last_when, @when)
                WHERE ${OWNER} AND items < @maxItems AND bytes + @size <= @maxBytes`,
          params: p,
        },
        {
          sql: `INSERT INTO clove_archive (host, store, owner, seq, "when", "with", bare, kind, payload, size)
                SELECT host, store, owner, next_seq - 1, last_when, @with, @bare, @kind, @payload, @size
                FROM clove_archive_owner WHERE ${OWNER} AND changes() > 0 RETURNING seq`,
          params: p,
        },
      ], true);
      return rows<{ seq: number }>(inserted)[0]?.seq;
    },
    counts: async (host, store, owner) => (await read<{ items: number; bytes: number }>(`SELECT items, bytes FROM clove_archive_owner WHERE ${OWNER}`, who(host, store, owner)))[0],
    query: async (host, store, owner, f) => {
      const where = [OWNER];
      if (f.with) where.push(f.with.full ? '"with" = @with' : 'bare = @with');
      if (f.start !== undefined) where.push('"when" >= @start');
      if (f.end !== undefined) where.push('"when" <= @end');
      if (f.ids !== undefined) where.push('seq IN (SELECT value FROM json_each(@ids))');
      const filter = where.join(' AND ');
      const params = {
        ...who(host, store, owner),
        ...(f.with ? { with: f.with.jid } : {}),
        ...(f.start !== undefined ? { start: f.start } : {}),
        ...(f.end !== undefined ? { end: f.end } : {}),
        ids: JSON.stringify(f.ids ?? []),
        bounds: JSON.stringify(f.bounds),
        after: f.after,
        before: f.before,
        limit: f.limit,
      };
      const [found, counts, page] = await db.run([
        { sql: `SELECT seq FROM clove_archive WHERE ${OWNER} AND seq IN (SELECT value FROM json_each(@bounds))`, params },
        { sql: `SELECT count(*) AS total, count(*) FILTER (WHERE seq <= @after) AS nfrom, count(*) FILTER (WHERE seq < @before) AS nto FROM clove_archive WHERE ${filter}`, params },
        { sql: `${ROW} WHERE ${filter} AND seq > @after AND seq < @before ORDER BY seq ${f.backwards ? 'DESC' : 'ASC'} LIMIT @limit`, params },
      ], false);
      const c = rows<{ total: number; nfrom: number; nto: number }>(counts)[0]!;
      const got = rows<ArchiveRow>(page);
      return { found: rows<{ seq: number }>(found).map((r) => r.seq), ...c, rows: f.backwards ? got.reverse() : got };
    },
    get: async (host, store, owner, seq) => (await read<ArchiveRow>(`${ROW} WHERE ${OWNER} AND seq = @seq`, { ...who(host, store, owner), seq }))[0],
    metadata: async (host, store, owner) => {
      const edge = (col: string, order: string): string =>
        `(SELECT ${col} FROM clove_archive a WHERE a.host = o.host AND a.store = o.store AND a.owner = o.owner ORDER BY seq ${order} LIMIT 1)`;
      const r = (await read<{ items: number; bytes: number; id_key: Uint8Array; fseq: number | null; fwhen: number; lseq: number; lwhen: number }>(
        `SELECT o.items, o.bytes, o.id_key, ${edge('seq', 'ASC')} AS fseq, ${edge('"when"', 'ASC')} AS fwhen, ${edge('seq', 'DESC')} AS lseq, ${edge('"when"', 'DESC')} AS lwhen
         FROM clove_archive_owner o WHERE o.host = @host AND o.store = @store AND o.owner = @owner`,
        who(host, store, owner),
      ))[0];
      if (!r || r.fseq === null) return undefined;
      return { items: r.items, bytes: r.bytes, idKey: r.id_key, first: { seq: r.fseq, when: r.fwhen }, last: { seq: r.lseq, when: r.lwhen } };
    },
    deleteOwner: async (host, store, owner) => {
      const params = who(host, store, owner);
      await db.run([{ sql: `DELETE FROM clove_archive WHERE ${OWNER}`, params }, { sql: `DELETE FROM clove_archive_owner WHERE ${OWNER}`, params }], true);
    },
    deleteOlderThan: async (host, store, before) => {
      // In chunks, each its own transaction, so a large first expiry does not hold the one
      // worker (and the WAL) for seconds; expiring again what is left changes nothing.
      const params = { host, store, before, chunk: EXPIRY_CHUNK };
      let deleted = 0;
      const emptied: string[] = [];
      for (;;) {
        const r = await db.run([
          ...victims(`SELECT rowid, owner, size FROM clove_archive WHERE host = @host AND store = @store AND "when" < @before ORDER BY "when" LIMIT @chunk`, params),
          {
            sql: `UPDATE clove_archive_owner SET items = items - g.n, bytes = bytes - g.b
                  FROM (SELECT owner, count(*) AS n, sum(size) AS b FROM temp.clove_victims GROUP BY owner) AS g
                  WHERE clove_archive_owner.host = @host AND clove_archive_owner.store = @store AND clove_archive_owner.owner = g.owner`,
            params,
          },
          { sql: 'DELETE FROM clove_archive_owner WHERE host = @host AND store = @store AND items = 0 AND owner IN (SELECT owner FROM temp.clove_victims) RETURNING owner', params },
          { sql: 'DELETE FROM clove_archive WHERE rowid IN (SELECT id FROM temp.clove_victims)' },
        ], true);
        const n = changes(r[r.length - 1]);
        deleted += n;
        emptied.push(...rows<{ owner: string }>(r[r.length - 2]).map((o) => o.owner));
        if (n < EXPIRY_CHUNK) return { deleted, emptied };
      }
    },
    truncate: async (host, store, owner, keep) => {
      const params = { ...who(host, store, owner), keep };
      // The counts go down by what is deleted: no pass over the rows that stay.
      const r = await db.run([
        ...victims(`SELECT rowid, owner, size FROM clove_archive WHERE ${OWNER} ORDER BY seq
                    LIMIT max(0, coalesce((SELECT items FROM clove_archive_owner WHERE ${OWNER}), 0) - @keep)`, params),
        {
          sql: `UPDATE clove_archive_owner SET items = items - (SELECT count(*) FROM temp.clove_victims), bytes = bytes - (SELECT coalesce(sum(size), 0) FROM temp.clove_victims)
                WHERE ${OWNER}`,
          params,
        },
        { sql: 'DELETE FROM clove_archive WHERE rowid IN (SELECT id FROM temp.clove_victims)' },
        { sql: `DELETE FROM clove_archive_owner WHERE ${OWNER} AND items = 0 AND changes() > 0 RETURNING owner`, params },
      ], true);
      return { deleted: changes(r[r.length - 2]), emptied: rows(r[r.length - 1]).length > 0 };
    },
    owners: async (host, store) => (await read<{ owner: string }>('SELECT owner FROM clove_archive_owner WHERE host = @host AND store = @store AND items > 0', { host, store })).map((r) => r.owner),
  };
}
