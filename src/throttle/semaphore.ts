// A counting semaphore with a bounded queue: caps how much expensive work (PBKDF2 on libuv's
// thread pool, bcrypt on worker threads) runs at once, so a flood of logins cannot take every
// libuv thread from file I/O, and a flood cannot queue without bound either.

/** The queue is full: the caller should refuse the request (temporary-auth-failure), not wait. */
export class BusyError extends Error {
  override name = 'BusyError';
}

/** At most `limit` jobs at once; callers that may be refused wait only while fewer than `maxQueue` do. */
export class Semaphore {
  private active = 0;
  private readonly queue: Array<() => void> = [];
  private head = 0;

  constructor(
    readonly limit: number,
    readonly maxQueue = Infinity,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('semaphore limit must be a positive integer');
  }

  /** Jobs waiting for a turn. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  /**
   * Run `job` once a slot is free (FIFO). With `refusable` a full queue throws BusyError at once:
   * for attempts from outside; an account being created or changed always waits its turn.
   */
  async run<T>(job: () => Promise<T>, refusable = false): Promise<T> {
    if (this.active >= this.limit) {
      if (refusable && this.waiting >= this.maxQueue) throw new BusyError('too much password hashing queued');
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await job();
    } finally {
      this.release();
    }
  }

  /** Hand the slot to the next in line (the count stays), or give it back. */
  private release(): void {
    const next = this.queue[this.head];
    if (next === undefined) {
      this.active--;
      return;
    }
    this.head++;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 1024) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    next();
  }
}
