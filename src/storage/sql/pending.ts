// Changes on their way to the database, per key (a keyval user, a map's user), in the queues of
// ../change-queue.ts: changes to one key are written in order, one transaction at a time, and
// those that arrive while one is written go together in the next; a set() resolves once its
// transaction committed. The queues are bounded in bytes (per key and over the backend), so a
// slow or unreachable database refuses changes (StorageBusyError) instead of piling them up.
// Reads apply the changes not yet committed on top of what the database says, so a reader
// always sees the newest value set (as the file and memory backends give it).
//
// A read that overlaps a commit cannot tell whether the database already holds the changes
// being written; applying them again gives the same result (every change sets, deletes or
// replaces), so reads apply them whether or not. Only a commit that *finished* during the read
// makes it start again: those changes are no longer listed.
import { ChangeQueue, type ChangeQueues } from '../change-queue.js';
import { StorageClosedError } from '../store.js';

/** Pending changes of records R, keyed by string. */
export class Pending<R> {
  private readonly keys = new Map<string, ChangeQueue<R>>();

  constructor(
    /** Write `changes` (in order) to the database in one transaction. */
    private readonly flush: (key: string, changes: R[]) => Promise<void>,
    private readonly isClosed: () => boolean,
    /** The byte bounds and drains shared by every Pending of the backend. */
    private readonly queues: ChangeQueues,
    /** A transaction writes only its newest change (keyval): a new change replaces a waiting one. */
    private readonly latestOnly = false,
  ) {}

  /** Queue a change of `bytes` (serialised); resolves once it is committed, rejects with StorageBusyError past a bound. */
  change(key: string, r: R, bytes: number): Promise<void> {
    if (this.isClosed()) return Promise.reject(new StorageClosedError());
    let q = this.keys.get(key);
    if (!q) {
      const mine: ChangeQueue<R> = new ChangeQueue<R>(this.queues, {
        write: (batch) => this.flush(key, batch),
        // Forgotten once idle: the keys are bounded by what is in flight.
        emptied: () => {
          if (this.keys.get(key) === mine) this.keys.delete(key);
        },
      }, this.latestOnly);
      this.keys.set(key, (q = mine));
    }
    const done = q.add(r, bytes);
    if (q.empty && this.keys.get(key) === q) this.keys.delete(key); // refused into a new queue
    return done;
  }

  /** `read()` from the database with the uncommitted changes of `key` applied by `apply`. */
  async read<V>(key: string, read: () => Promise<V>, apply: (v: V, changes: readonly R[]) => V): Promise<V> {
    for (let attempt = 0; ; attempt++) {
      const q = this.keys.get(key);
      if (!q) {
        const v = await read();
        // A change queued during the read: apply it (it is newer than anything read).
        const now = this.keys.get(key);
        return now ? apply(v, now.pending()) : v;
      }
      const gen = q.gen;
      const v = await read();
      if (q.gen !== gen && attempt < 8) continue;
      return apply(v, q.pending());
    }
  }

  /** Keys with changes not yet committed, and the changes. */
  entries(): Array<[string, readonly R[]]> {
    return [...this.keys].map(([k, q]) => [k, q.pending()]);
  }
}
