// The archive shape of the memory backend: the same index and query code as the file backend,
// with payloads kept in a Map by sequence number. For tests and throwaway servers.
import { StorageClosedError, type ArchiveLimits, type ArchivePayload, type ArchiveStore } from '../store.js';
import { IdCodec, newIdKey } from './ids.js';
import { emptyPage, OwnerState, resolveLimits } from './owner.js';

interface MemOwner {
  state: OwnerState;
  payloads: Map<number, ArchivePayload>;
}

/** Owners of one host and store; shared by every archive() call for them. */
export type MemoryArchiveTable = Map<string, MemOwner>;

function copy(p: ArchivePayload): ArchivePayload {
  return typeof p === 'string' ? p : new Uint8Array(p);
}

/** An ArchiveStore over `table`; `closed` tells whether the backend refuses writes. */
export function memoryArchive(table: MemoryArchiveTable, limits: ArchiveLimits | undefined, closed: () => boolean): ArchiveStore {
  const lim = resolveLimits(limits);
  const checkOwner = (owner: string): void => {
    if (owner === '') throw new Error('empty owner name');
  };
  const drop = (o: MemOwner, n: number): number => {
    const ix = o.state.index;
    for (let i = 0; i < Math.min(n, ix.length); i++) o.payloads.delete(ix.seqAt(i));
    const before = ix.length;
    ix.dropOldest(n);
    return before - ix.length;
  };
  const store: ArchiveStore = {
    append: async (owner, item, queued) => {
      if (closed()) throw new StorageClosedError();
      checkOwner(owner);
      let o = table.get(owner);
      const fresh = o === undefined;
      o ??= { state: new OwnerState(owner, new IdCodec(newIdKey()), 0), payloads: new Map() };
      const r = o.state.accept(item, lim);
      if (fresh) table.set(owner, o);
      o.payloads.set(r.seq, copy(r.payload));
      o.state.index.push(r.seq, r.when, r.with, r.size, 0);
      queued?.();
      return o.state.codec.encode(r.seq);
    },
    query: async (owner, q = {}) => {
      const o = table.get(owner);
      if (!o) return emptyPage(q);
      const { positions, ...rsm } = o.state.index.select(q, (id) => o.state.codec.decode(id));
      return { ...rsm, items: positions.map((p) => o.state.item(p, copy(o.payloads.get(o.state.index.seqAt(p))!))) };
    },
    get: async (owner, id) => {
      const o = table.get(owner);
      const seq = o?.state.codec.decode(id);
      if (!o || seq === undefined) return undefined;
      const pos = o.state.index.positionOf(seq);
      return pos < 0 ? undefined : o.state.item(pos, copy(o.payloads.get(seq)!));
    },
    metadata: async (owner) => table.get(owner)?.state.metadata() ?? { count: 0, bytes: 0 },
    deleteOwner: async (owner) => {
      if (closed()) throw new StorageClosedError();
      table.delete(owner);
    },
    deleteOlderThan: async (before) => {
      if (closed()) throw new StorageClosedError();
      let n = 0;
      for (const [owner, o] of table) {
        n += drop(o, o.state.dropCount({ before }));
        if (o.state.index.length === 0) table.delete(owner);
      }
      return n;
    },
    truncate: async (owner, keep) => {
      if (closed()) throw new StorageClosedError();
      const o = table.get(owner);
      if (!o) return 0;
      const n = drop(o, o.state.dropCount({ keep }));
      if (o.state.index.length === 0) table.delete(owner);
      return n;
    },
    owners: async () => [...table.keys()].sort(),
  };
  return store;
}
