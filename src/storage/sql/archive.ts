// The archive shape of the SQL backend: one row per item in clove_archive and one per owner in
// clove_archive_owner (the owner's id key, next sequence number, newest time, item and byte
// counts). The database's statements are in ./tables.ts; here are what every database shares:
// checks, quotas, ids and paging. Ids are the same encrypted sequence numbers as the file
// backend's (../archive/ids.ts).
//
// References: XEP-0313 (Message Archive Management) §4.1 filters, XEP-0059 (Result Set
// Management) paging — the same semantics as ../archive/index.ts, computed by the database.
import { ARCHIVE_QUERY_MAX, ArchiveBusyError, ArchiveItemNotFoundError, ArchiveQuotaError, StorageBusyError, StorageClosedError, type ArchiveItem, type ArchiveLimits, type ArchiveStore } from '../store.js';
import { bareOf } from '../archive/index.js';
import { IdCodec, newIdKey } from '../archive/ids.js';
import { emptyPage, resolveLimits } from '../archive/owner.js';
import { recordSize } from '../archive/record.js';
import type { ArchiveRow, ArchiveTables } from './tables.js';

/** Owners whose id key is kept in memory (the least recently used go first). */
const CODECS_MAX = 4096;

/** What the archive stores need of the backend. */
export interface SqlArchiveDeps {
  tables: ArchiveTables;
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
    const t = this.deps.tables;
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
      const key = await t.ownerKey(host, store, owner, create ? newIdKey() : undefined);
      if (!key) return undefined;
      const codec = new IdCodec(Buffer.from(key));
      this.codecs.set(k, codec);
      if (this.codecs.size > CODECS_MAX) this.codecs.delete(this.codecs.keys().next().value!);
      return codec;
    };
    const forget = (owners: readonly string[]): void => {
      for (const o of owners) this.codecs.delete(cacheKey(o));
    };
    const toItem = (codec: IdCodec, r: ArchiveRow): ArchiveItem => ({
      id: codec.encode(r.seq),
      when: r.when,
      with: r.with,
      payload: r.kind === 0 ? Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength).toString('utf8') : new Uint8Array(r.payload),
    });

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
        const row = { with: withJid, bare: bareOf(withJid), kind: text ? 0 : 1, payload, size, when, maxItems: Math.min(lim.maxItems, Number.MAX_SAFE_INTEGER), maxBytes: Math.min(lim.maxBytes, Number.MAX_SAFE_INTEGER) };
        for (let attempt = 0; ; attempt++) {
          const codec = (await codecOf(owner, true))!;
          let seq;
          try {
            seq = await t.append(host, store, owner, row);
          } catch (e) {
            if (e instanceof StorageBusyError) throw new ArchiveBusyError(owner);
            throw e;
          }
          if (seq !== undefined) {
            queued?.(); // the sequence number is taken in the statement: its place is fixed (and durable)
            return codec.encode(seq);
          }
          // Refused: a quota, or the owner's archive was deleted meanwhile (then start a new one).
          const counts = await t.counts(host, store, owner);
          if (counts === undefined && attempt < 3) {
            forget([owner]);
            continue;
          }
          if (counts === undefined || counts.items >= lim.maxItems) throw new ArchiveQuotaError(owner, 'items', lim.maxItems);
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
      const asked = q.limit !== undefined && Number.isFinite(q.limit) ? Math.floor(q.limit) : ARCHIVE_QUERY_MAX;
      const limit = Math.max(0, Math.min(ARCHIVE_QUERY_MAX, asked));
      const backwards = q.before !== undefined;
      const r = await t.query(host, store, owner, {
        ...(q.with !== undefined ? { with: { jid: q.with, full: q.with.includes('/') } } : {}),
        ...(q.start !== undefined ? { start: q.start } : {}),
        ...(q.end !== undefined ? { end: q.end } : {}),
        ...(q.ids !== undefined ? { ids: q.ids.map((id) => codec.decode(id)).filter((s): s is number => s !== undefined) } : {}),
        after: after ?? -1,
        before: before ?? Number.MAX_SAFE_INTEGER,
        limit,
        backwards,
        bounds: [after, before].filter((s): s is number => s !== undefined),
      });
      const have = new Set(r.found);
      if (after !== undefined && !have.has(after)) throw new ArchiveItemNotFoundError(q.after!);
      if (before !== undefined && !have.has(before)) throw new ArchiveItemNotFoundError(q.before as string);
      const from = after !== undefined ? r.nfrom : 0;
      const to = Math.max(from, before !== undefined ? r.nto : r.total);
      const first = backwards ? Math.max(from, to - limit) : from;
      const last = backwards ? to : Math.min(to, from + limit);
      return { items: r.rows.map((row) => toItem(codec, row)), count: r.total, index: first, complete: backwards ? first === from : last === to };
    };

    return {
      append,
      query,
      get: async (owner, id) => {
        const codec = await codecOf(owner, false);
        const seq = codec?.decode(id);
        if (!codec || seq === undefined) return undefined;
        const row = await t.get(host, store, owner, seq);
        return row ? toItem(codec, row) : undefined;
      },
      metadata: async (owner) => {
        const m = await t.metadata(host, store, owner);
        if (!m) return { count: 0, bytes: 0 };
        const codec = new IdCodec(Buffer.from(m.idKey));
        return { count: m.items, bytes: m.bytes, first: { id: codec.encode(m.first.seq), when: m.first.when }, last: { id: codec.encode(m.last.seq), when: m.last.when } };
      },
      deleteOwner: (owner) =>
        write(async () => {
          await t.deleteOwner(host, store, owner);
          forget([owner]);
        }),
      deleteOlderThan: (before) =>
        write(async () => {
          const r = await t.deleteOlderThan(host, store, before);
          forget(r.emptied); // an emptied owner's ids never come back: the next append makes a new key
          return r.deleted;
        }),
      truncate: (owner, keep) =>
        write(async () => {
          const r = await t.truncate(host, store, owner, Math.max(0, Math.floor(keep)));
          if (r.emptied) forget([owner]);
          return r.deleted;
        }),
      owners: async () => (await t.owners(host, store)).sort(),
    };
  }
}
