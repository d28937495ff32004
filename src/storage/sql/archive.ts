// The archive shape of the SQL backend: one row per item in clove_archive and one per owner in
// clove_archive_owner (the owner's id key, next sequence number, newest time, item and byte
// counts). An append is one statement that takes the owner's row lock, checks both quotas,
// gives the sequence number and time and inserts the item, so it is atomic and appends to one
// owner are ordered even across servers; a deletion changes items and counts in one transaction.
// Ids are the same encrypted sequence numbers as the file backend's (../archive/ids.ts).
//
// References: XEP-0313 (Message Archive Management) §4.1 filters, XEP-0059 (Result Set
// Management) paging — the same semantics as ../archive/index.ts, computed by the database.
import { ARCHIVE_QUERY_MAX, ArchiveBusyError, ArchiveItemNotFoundError, ArchiveQuotaError, StorageClosedError, type ArchiveItem, type ArchiveLimits, type ArchivePage, type ArchiveStore } from '../store.js';
import { bareOf } from '../archive/index.js';
import { IdCodec, newIdKey } from '../archive/ids.js';
import { emptyPage, resolveLimits } from '../archive/owner.js';
import { recordSize } from '../archive/record.js';
import { SqlBusyError, type Queryable, type SqlPool } from './pool.js';

/** Owners whose id key is kept in memory (the least recently used go first). */
const CODECS_MAX = 4096;

interface Row { seq: number; when: number; with: string; kind: number; payload: Buffer }

/** What the archive stores need of the backend. */
export interface SqlArchiveDeps {
  db: () => SqlPool;
  isClosed: () => boolean;
  /** Tracks a write so close() waits for it. */
  track: <T>(p: Promise<T>) => Promise<T>;
}

/** The archive stores of one backend; id keys are cached per host, store and owner. */
export class SqlArchives {
  private readonly codecs = new Map<string, IdCodec>();

  constructor(private readonly deps: SqlArchiveDeps) {}

  store(host: string, store: string, limits?: ArchiveLimits): ArchiveStore {
    const lim = resolveLimits(limits);
    const db = this.deps.db;
    const who = (owner: string): [string, string, string] => [host, store, owner];
    const cacheKey = (owner: string): string => `${host}\0${store}\0${owner}`;
    const write = <T>(f: () => Promise<T>): Promise<T> => {
      if (this.deps.isClosed()) return Promise.reject(new StorageClosedError());
      return this.deps.track(f());
    };
    /** The owner's codec, or undefined when the owner has no archive (`create`: make one). */
    const codecOf = async (owner: string, create: boolean): Promise<IdCodec | undefined> => {
      const k = cacheKey(owner);
      const cached = this.codecs.get(k);
      if (cached) {
        this.codecs.delete(k);
        this.codecs.set(k, cached);
        return cached;
      }
      const r = create
        ? await db().query<{ id_key: Buffer }>(
          `INSERT INTO clove_archive_owner (host, store, owner, id_key) VALUES ($1, $2, $3, $4)
           ON CONFLICT (host, store, owner) DO UPDATE SET id_key = clove_archive_owner.id_key RETURNING id_key`,
          [...who(owner), newIdKey()],
        )
        : await db().query<{ id_key: Buffer }>('SELECT id_key FROM clove_archive_owner WHERE host = $1 AND store = $2 AND owner = $3', who(owner));
      const key = r.rows[0]?.id_key;
      if (!key) return undefined;
      const codec = new IdCodec(key);
      this.codecs.set(k, codec);
      if (this.codecs.size > CODECS_MAX) this.codecs.delete(this.codecs.keys().next().value!);
      return codec;
    };
    const forget = (owners: readonly string[]): void => {
      for (const o of owners) this.codecs.delete(cacheKey(o));
    };
    const toItem = (codec: IdCodec, r: Row): ArchiveItem => ({
      id: codec.encode(r.seq),
      when: r.when,
      with: r.with,
      payload: r.kind === 0 ? r.payload.toString('utf8') : new Uint8Array(r.payload),
    });
    /** Drop an emptied owner's row (its ids never come back: the next append makes a new key). */
    const dropEmpty = async (q: Queryable, owners: readonly string[]): Promise<void> => {
      if (owners.length === 0) return;
      await q.query('DELETE FROM clove_archive_owner WHERE host = $1 AND store = $2 AND owner = ANY($3::text[]) AND items = 0', [host, store, owners]);
      forget(owners);
    };

    const append: ArchiveStore['append'] = (owner, item, queued) =>
      write(async () => {
        if (owner === '') throw new Error('empty owner name');
        const withJid = item.with ?? '';
        if (typeof withJid !== 'string') throw new TypeError('archive with must be a string');
        if (typeof item.payload !== 'string' && !(item.payload instanceof Uint8Array)) throw new TypeError('archive payload must be a string or bytes');
        const size = recordSize(withJid, item.payload);
        const when = item.when ?? Date.now();
        if (!Number.isFinite(when)) throw new TypeError('archive when must be a finite number');
        const text = typeof item.payload === 'string';
        const payload = text ? Buffer.from(item.payload as string, 'utf8') : Buffer.from(item.payload as Uint8Array);
        for (let attempt = 0; ; attempt++) {
          const codec = (await codecOf(owner, true))!;
          let r;
          try {
            r = await db().query<{ seq: number }>(
              `WITH o AS (
                 UPDATE clove_archive_owner SET next_seq = next_seq + 1, items = items + 1, bytes = bytes + $5,
                   last_when = GREATEST(last_when, $6)
                 WHERE host = $1 AND store = $2 AND owner = $3 AND items < $7 AND bytes + $5 <= $8
                 RETURNING next_seq - 1 AS seq, last_when)
               INSERT INTO clove_archive (host, store, owner, seq, "when", "with", bare, kind, payload, size)
               SELECT $1, $2, $3, o.seq, o.last_when, $4, $9, $10, $11, $5 FROM o RETURNING seq`,
              [...who(owner), withJid, size, when, Math.min(lim.maxItems, Number.MAX_SAFE_INTEGER), Math.min(lim.maxBytes, Number.MAX_SAFE_INTEGER), bareOf(withJid), text ? 0 : 1, payload],
            );
          } catch (e) {
            if (e instanceof SqlBusyError) throw new ArchiveBusyError(owner);
            throw e;
          }
          const seq = r.rows[0]?.seq;
          if (seq !== undefined) {
            queued?.(); // the sequence number is taken in the statement: its place is fixed (and durable)
            return codec.encode(seq);
          }
          // Refused: a quota, or the owner's archive was deleted meanwhile (then start a new one).
          const o = await db().query<{ items: number; bytes: number }>('SELECT items, bytes FROM clove_archive_owner WHERE host = $1 AND store = $2 AND owner = $3', who(owner));
          const row = o.rows[0];
          if (row === undefined && attempt < 3) {
            forget([owner]);
            continue;
          }
          if (row === undefined || row.items >= lim.maxItems) throw new ArchiveQuotaError(owner, 'items', lim.maxItems);
          throw new ArchiveQuotaError(owner, 'bytes', lim.maxBytes);
        }
      });

    const query: ArchiveStore['query'] = async (owner, q = {}) => {
      const codec = await codecOf(owner, false);
      if (!codec) return emptyPage(q);
      const seqOf = (id: string): number => {
        const seq = codec.decode(id);
        if (seq === undefined) throw new ArchiveItemNotFoundError(id);
        return seq;
      };
      const after = q.after !== undefined ? seqOf(q.after) : undefined;
      const before = typeof q.before === 'string' ? seqOf(q.before) : undefined;
      const values: unknown[] = who(owner);
      const where = ['host = $1', 'store = $2', 'owner = $3'];
      const param = (v: unknown): string => `$${values.push(v)}`;
      if (q.with !== undefined) where.push(q.with.includes('/') ? `"with" = ${param(q.with)}` : `bare = ${param(q.with)}`);
      if (q.start !== undefined) where.push(`"when" >= ${param(q.start)}`);
      if (q.end !== undefined) where.push(`"when" <= ${param(q.end)}`);
      if (q.ids !== undefined) {
        const seqs = q.ids.map((id) => codec.decode(id)).filter((s): s is number => s !== undefined);
        where.push(`seq = ANY(${param(seqs)}::bigint[])`);
      }
      const filter = where.join(' AND ');
      const asked = q.limit !== undefined && Number.isFinite(q.limit) ? Math.floor(q.limit) : ARCHIVE_QUERY_MAX;
      const limit = Math.max(0, Math.min(ARCHIVE_QUERY_MAX, asked));
      return db().transaction(async (t): Promise<ArchivePage> => {
        const bounds = [after, before].filter((s): s is number => s !== undefined);
        if (bounds.length) {
          const found = await t.query<{ seq: number }>('SELECT seq FROM clove_archive WHERE host = $1 AND store = $2 AND owner = $3 AND seq = ANY($4::bigint[])', [...who(owner), bounds]);
          const have = new Set(found.rows.map((r) => r.seq));
          if (after !== undefined && !have.has(after)) throw new ArchiveItemNotFoundError(q.after!);
          if (before !== undefined && !have.has(before)) throw new ArchiveItemNotFoundError(q.before as string);
        }
        const a = after ?? -1;
        const b = before ?? Number.MAX_SAFE_INTEGER;
        const c = await t.query<{ total: number; nfrom: number; nto: number }>(
          `SELECT count(*) AS total, count(*) FILTER (WHERE seq <= ${param(a)}) AS nfrom, count(*) FILTER (WHERE seq < ${param(b)}) AS nto FROM clove_archive WHERE ${filter}`,
          values,
        );
        const { total, nfrom, nto } = c.rows[0]!;
        const from = after !== undefined ? nfrom : 0;
        const to = Math.max(from, before !== undefined ? nto : total);
        const backwards = q.before !== undefined;
        const first = backwards ? Math.max(from, to - limit) : from;
        const last = backwards ? to : Math.min(to, from + limit);
        let rows: Row[] = [];
        if (last > first) {
          const r = await t.query<Row>(
            `SELECT seq, "when", "with", kind, payload FROM clove_archive WHERE ${filter} AND seq > $${values.length - 1} AND seq < $${values.length}
             ORDER BY seq ${backwards ? 'DESC' : 'ASC'} LIMIT ${last - first}`,
            values,
          );
          rows = backwards ? r.rows.reverse() : r.rows;
        }
        return { items: rows.map((r) => toItem(codec, r)), count: total, index: first, complete: backwards ? first === from : last === to };
      }, true);
    };

    return {
      append,
      query,
      get: async (owner, id) => {
        const codec = await codecOf(owner, false);
        const seq = codec?.decode(id);
        if (!codec || seq === undefined) return undefined;
        const r = await db().query<Row>('SELECT seq, "when", "with", kind, payload FROM clove_archive WHERE host = $1 AND store = $2 AND owner = $3 AND seq = $4', [...who(owner), seq]);
        return r.rows[0] ? toItem(codec, r.rows[0]) : undefined;
      },
      metadata: async (owner) => {
        const r = await db().query<{ items: number; bytes: number; id_key: Buffer; fseq: number | null; fwhen: number; lseq: number; lwhen: number }>(
          `SELECT o.items, o.bytes, o.id_key, f.seq AS fseq, f."when" AS fwhen, l.seq AS lseq, l."when" AS lwhen
           FROM clove_archive_owner o
           LEFT JOIN LATERAL (SELECT seq, "when" FROM clove_archive a WHERE a.host = o.host AND a.store = o.store AND a.owner = o.owner ORDER BY seq LIMIT 1) f ON true
           LEFT JOIN LATERAL (SELECT seq, "when" FROM clove_archive a WHERE a.host = o.host AND a.store = o.store AND a.owner = o.owner ORDER BY seq DESC LIMIT 1) l ON true
           WHERE o.host = $1 AND o.store = $2 AND o.owner = $3`,
          who(owner),
        );
        const row = r.rows[0];
        if (!row || row.fseq === null) return { count: 0, bytes: 0 };
        const codec = new IdCodec(row.id_key);
        return { count: row.items, bytes: row.bytes, first: { id: codec.encode(row.fseq), when: row.fwhen }, last: { id: codec.encode(row.lseq), when: row.lwhen } };
      },
      deleteOwner: (owner) =>
        write(() =>
          db().transaction(async (t) => {
            await t.query('DELETE FROM clove_archive WHERE host = $1 AND store = $2 AND owner = $3', who(owner));
            await t.query('DELETE FROM clove_archive_owner WHERE host = $1 AND store = $2 AND owner = $3', who(owner));
            forget([owner]);
          }),
        ),
      deleteOlderThan: (before) =>
        write(() =>
          db().transaction(async (t) => {
            const r = await t.query<{ n: number; emptied: string[] }>(
              `WITH d AS (DELETE FROM clove_archive WHERE host = $1 AND store = $2 AND "when" < $3 RETURNING owner, size),
               g AS (SELECT owner, count(*) AS n, sum(size) AS b FROM d GROUP BY owner),
               u AS (UPDATE clove_archive_owner o SET items = o.items - g.n, bytes = o.bytes - g.b FROM g
                     WHERE o.host = $1 AND o.store = $2 AND o.owner = g.owner RETURNING o.owner, o.items)
               SELECT (SELECT count(*) FROM d) AS n, array(SELECT owner FROM u WHERE items = 0) AS emptied`,
              [host, store, before],
            );
            await dropEmpty(t, r.rows[0]!.emptied);
            return r.rows[0]!.n;
          }),
        ),
      truncate: (owner, keep) =>
        write(() =>
          db().transaction(async (t) => {
            const o = await t.query<{ items: number }>('SELECT items FROM clove_archive_owner WHERE host = $1 AND store = $2 AND owner = $3 FOR UPDATE', who(owner));
            const n = Math.max(0, (o.rows[0]?.items ?? 0) - Math.max(0, Math.floor(keep)));
            if (n === 0) return 0;
            const r = await t.query<{ items: number; n: number }>(
              `WITH d AS (DELETE FROM clove_archive WHERE host = $1 AND store = $2 AND owner = $3 AND seq IN
                 (SELECT seq FROM clove_archive WHERE host = $1 AND store = $2 AND owner = $3 ORDER BY seq LIMIT $4) RETURNING size)
               UPDATE clove_archive_owner SET items = items - (SELECT count(*) FROM d), bytes = bytes - (SELECT coalesce(sum(size), 0) FROM d)
               WHERE host = $1 AND store = $2 AND owner = $3 RETURNING items, (SELECT count(*) FROM d) AS n`,
              [...who(owner), n],
            );
            if (r.rows[0]!.items === 0) await dropEmpty(t, [owner]);
            return r.rows[0]!.n;
          }),
        ),
      owners: async () => {
        const r = await db().query<{ owner: string }>('SELECT owner FROM clove_archive_owner WHERE host = $1 AND store = $2 AND items > 0', [host, store]);
        return r.rows.map((row) => row.owner).sort();
      },
    };
  }
}
