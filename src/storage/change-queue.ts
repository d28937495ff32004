// Changes on their way to the disk or the database, one queue per key (a user's map, a keyval
// value): written in order, one batch at a time, and the changes that arrive while a batch is
// written go together in the next; each change's promise settles with its batch. The file map
// store (./file-map.ts) and the SQL backend (./sql/pending.ts) both queue this way.
//
// Outside input feeds these queues (roster changes, PEP, offline messages, …), and a slow disk or
// an unreachable database lets them grow, so they are bounded in bytes (docs/limits.md): per key,
// the changes waiting behind the batch in flight; over every key of a backend, everything queued
// or being written. A change past either is refused at once with StorageBusyError and changes
// nothing; the changes already queued are written as usual.
import { StorageBusyError } from './store.js';

/** Byte bounds of the changes waiting for storage. */
export interface QueueLimits {
  /** Bytes waiting behind the batch in flight, per key (a first waiting change is always taken). */
  keyBytes: number;
  /** Bytes queued or being written over every key of a backend. */
  totalBytes: number;
}

/** Defaults of QueueLimits (the storage_pending_bytes_per_user and storage_pending_bytes options). */
export const QUEUE_DEFAULTS: Readonly<QueueLimits> = { keyBytes: 1024 * 1024, totalBytes: 64 * 1024 * 1024 };

/** The queues of one backend: their limits, the bytes they hold together, and the drains under way. */
export class ChangeQueues {
  /** Bytes queued or being written over every queue. */
  bytes = 0;
  private readonly running = new Set<Promise<void>>();

  constructor(readonly limits: Readonly<QueueLimits> = QUEUE_DEFAULTS) {}

  /** Resolves when no queue is being written. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Count `p` as a drain under way until it settles. */
  track(p: Promise<void>): void {
    this.running.add(p);
    p.finally(() => this.running.delete(p)).catch(() => undefined);
  }
}

/** How one key's queue is written. */
export interface Drainer<R> {
  /** Write one batch, in order; a throw rejects the batch's callers. */
  write(batch: R[]): Promise<void>;
  /** Run a whole drain inside this (a lock held while it writes); default: run it as it is. */
  around?(drain: () => Promise<void>): Promise<void>;
  /** The queue became empty and nothing is being written. */
  emptied?(): void;
}

interface Waiter { resolve: () => void; reject: (e: unknown) => void }

/** One key's changes: waiting, being written, and who waits for them. */
export class ChangeQueue<R> {
  /** Changes not yet taken by a batch. */
  private queued: R[] = [];
  /** The batch being written. */
  private writing: R[] = [];
  private waiters: Waiter[] = [];
  private queuedBytes = 0;
  private draining = false;
  /** Batches finished (a read spanning one may start again). */
  gen = 0;

  /**
   * `latestOnly`: a batch is written by its newest change alone (a keyval value), so a new
   * change replaces the one waiting instead of joining it.
   */
  constructor(
    private readonly all: ChangeQueues,
    private readonly drainer: Drainer<R>,
    private readonly latestOnly = false,
  ) {}

  /**
   * Queue change `r` of `bytes` (its serialised size); resolves once its batch is written.
   * Rejects at once with StorageBusyError when it does not fit the bounds.
   */
  add(r: R, bytes: number): Promise<void> {
    const replaced = this.latestOnly ? this.queuedBytes : 0;
    const { keyBytes, totalBytes } = this.all.limits;
    if (this.queuedBytes - replaced > 0 && this.queuedBytes - replaced + bytes > keyBytes) {
      return Promise.reject(new StorageBusyError(`storage is busy: over ${keyBytes} bytes of changes to one user wait for it`));
    }
    if (this.all.bytes - replaced + bytes > totalBytes) {
      return Promise.reject(new StorageBusyError(`storage is busy: over ${totalBytes} bytes of changes wait for it`));
    }
    if (this.latestOnly) this.queued.length = 0;
    this.queued.push(r);
    this.queuedBytes += bytes - replaced;
    this.all.bytes += bytes - replaced;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.kick();
    return done;
  }

  /** The changes not yet written, oldest first (the batch in flight, then those waiting). */
  pending(): R[] {
    return this.writing.length === 0 ? [...this.queued] : [...this.writing, ...this.queued];
  }

  /** The newest change not yet written (undefined when none). */
  latest(): R | undefined {
    return this.queued.length > 0 ? this.queued[this.queued.length - 1] : this.writing[this.writing.length - 1];
  }

  /** Nothing waits and nothing is being written. */
  get empty(): boolean {
    return !this.draining && this.queued.length === 0;
  }

  /** Start writing the queued changes unless a drain is under way (it takes them). */
  private kick(): void {
    if (this.draining || this.queued.length === 0) return;
    this.draining = true;
    const drain = (): Promise<void> => this.drain();
    const run = (this.drainer.around ? this.drainer.around(drain) : drain()).finally(() => {
      this.draining = false;
      if (this.queued.length > 0) this.kick(); // changes queued while the drain was finishing
      else this.drainer.emptied?.();
    });
    this.all.track(run);
  }

  /** Write batches until none is left. */
  private async drain(): Promise<void> {
    while (this.queued.length > 0) {
      const batch = (this.writing = this.queued);
      const bytes = this.queuedBytes;
      const waiters = this.waiters;
      this.queued = [];
      this.queuedBytes = 0;
      this.waiters = [];
      try {
        await this.drainer.write(batch);
        for (const w of waiters) w.resolve();
      } catch (e) {
        for (const w of waiters) w.reject(e);
      } finally {
        this.writing = [];
        this.all.bytes -= bytes;
        this.gen++;
      }
    }
  }
}
