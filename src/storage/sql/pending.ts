// Changes on their way to the database, per key (a keyval user, a map's user). Changes to one
// key are written in order, one transaction at a time, and those that arrive while one is
// written go together in the next; a set() resolves once its transaction committed. Reads apply
// the changes not yet committed on top of what the database says, so a reader always sees the
// newest value set (as the file and memory backends give it).
//
// A read that overlaps a commit cannot tell whether the database already holds the changes
// being written; applying them again gives the same result (every change sets, deletes or
// replaces), so reads apply them whether or not. Only a commit that *finished* during the read
// makes it start again: those changes are no longer listed.
import { StorageClosedError } from '../store.js';

interface Waiter { resolve: () => void; reject: (e: unknown) => void }

interface KeyState<R> {
  queued: R[];
  writing: R[];
  waiters: Waiter[];
  draining: boolean;
  /** Commits finished (a read spanning one starts again). */
  gen: number;
}

/** Pending changes of records R, keyed by string. */
export class Pending<R> {
  private readonly keys = new Map<string, KeyState<R>>();
  private readonly running = new Set<Promise<void>>();

  constructor(
    /** Write `changes` (in order) to the database in one transaction. */
    private readonly flush: (key: string, changes: R[]) => Promise<void>,
    private readonly isClosed: () => boolean,
  ) {}

  /** Queue a change; resolves once it is committed. */
  change(key: string, r: R): Promise<void> {
    if (this.isClosed()) return Promise.reject(new StorageClosedError());
    let st = this.keys.get(key);
    if (!st) this.keys.set(key, (st = { queued: [], writing: [], waiters: [], draining: false, gen: 0 }));
    st.queued.push(r);
    const done = new Promise<void>((resolve, reject) => st.waiters.push({ resolve, reject }));
    this.kick(key, st);
    return done;
  }

  /** `read()` from the database with the uncommitted changes of `key` applied by `apply`. */
  async read<V>(key: string, read: () => Promise<V>, apply: (v: V, changes: readonly R[]) => V): Promise<V> {
    for (let attempt = 0; ; attempt++) {
      const st = this.keys.get(key);
      if (!st) {
        const v = await read();
        // A change queued during the read: apply it (it is newer than anything read).
        const now = this.keys.get(key);
        return now ? apply(v, [...now.writing, ...now.queued]) : v;
      }
      const gen = st.gen;
      const v = await read();
      if (st.gen !== gen && attempt < 8) continue;
      return apply(v, [...st.writing, ...st.queued]);
    }
  }

  /** Keys with changes not yet committed, and the changes. */
  entries(): Array<[string, readonly R[]]> {
    return [...this.keys].map(([k, st]) => [k, [...st.writing, ...st.queued]]);
  }

  /** Resolves when nothing is being written. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private kick(key: string, st: KeyState<R>): void {
    if (st.draining || st.queued.length === 0) return;
    st.draining = true;
    const run = this.drain(key, st).finally(() => {
      st.draining = false;
      this.running.delete(run);
      if (st.queued.length > 0) this.kick(key, st);
      else if (this.keys.get(key) === st) this.keys.delete(key); // forgotten once idle: bounded by what is in flight
    });
    this.running.add(run);
  }

  private async drain(key: string, st: KeyState<R>): Promise<void> {
    while (st.queued.length > 0) {
      st.writing = st.queued;
      st.queued = [];
      const waiters = st.waiters;
      st.waiters = [];
      try {
        await this.flush(key, st.writing);
        for (const w of waiters) w.resolve();
      } catch (e) {
        for (const w of waiters) w.reject(e);
      } finally {
        st.writing = [];
        st.gen++;
      }
    }
  }
}
