// Per-key exponential backoff for password checks: after each failed check for a key the next
// check waits 1 s, 2 s, 4 s … up to a cap; a success or a quiet period forgets the failures.
//
// Why this shape, behind i2pd where every client is 127.0.0.1 (Prosody's mod_limit_auth and
// ejabberd's mod_fail2ban count per IP address, which here would ban everyone or no one):
// - Keyed by the account asked for (existing or not), so opening more connections buys an
//   attacker nothing: checks for one key run one at a time and `delay` apart.
// - Never a lockout: the delay is capped, and an attempt that had to wait is not a failure
//   of its own, so a stopped flood leaves at most one capped delay behind it.
// - Waiting attempts are served newest first (a stack, bounded per key), so when a flood stops
//   the first attempt to arrive afterwards — the real user's — is the next one checked, instead
//   of queueing behind everything the flood left pending; attempts that wait longer than
//   `maxWaitMs` or fall off the bottom of the stack are refused (the client may try again).
// - Bounded memory: keys are fixed-size digests, an entry exists only while it has failures,
//   and past `maxEntries` the least recently used idle entries are evicted.

/** The attempt was not checked: its key is busy or backing off. */
export class ThrottledError extends Error {
  override name = 'ThrottledError';
  constructor(readonly retryAfterMs: number) {
    super(`throttled; retry in ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

export interface BackoffOptions {
  /** Delay after the first failure; doubles with each further one. */
  firstDelayMs: number;
  /** Cap of the delay. */
  maxDelayMs: number;
  /** Longest an attempt waits for its turn before it is refused. */
  maxWaitMs: number;
  /** Entries kept at most (idle ones are evicted first, least recently used). */
  maxEntries: number;
  /** Failures older than this are forgotten. */
  forgetMs: number;
  /** Attempts waiting per key at most; the oldest is refused when another arrives. */
  maxWaiters?: number;
  now?: () => number;
}

interface Waiter {
  go(): void;
  refuse(err: ThrottledError): void;
  alive(): boolean;
  timer: NodeJS.Timeout;
}

interface Entry {
  failures: number;
  lastFailure: number;
  blockedUntil: number;
  busy: boolean;
  waiters: Waiter[]; // oldest first; served from the end
  timer: NodeJS.Timeout | undefined;
}

/** How many entries eviction looks at before giving up on finding an idle one. */
const EVICT_SCAN = 64;

/** Paces checks per key; see the header comment for the rules. */
export class Backoff {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly maxWaiters: number;

  constructor(private readonly opts: BackoffOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.maxWaiters = opts.maxWaiters ?? 8;
  }

  /** Entries held (keys with recent failures or attempts in flight). */
  get size(): number {
    return this.entries.size;
  }

  /** Failures counted for `key` (0 when forgotten). */
  failures(key: string): number {
    const e = this.entries.get(key);
    return e ? this.decayed(e) : 0;
  }

  /** Delay imposed after `n` failures. */
  delayAfter(n: number): number {
    if (n <= 0) return 0;
    return Math.min(this.opts.maxDelayMs, this.opts.firstDelayMs * 2 ** Math.min(n - 1, 30));
  }

  /**
   * Run `check` when it is `key`'s turn and record its outcome (true: success). Throws
   * ThrottledError when the turn does not come within maxWaitMs; errors of `check` pass through
   * and count as nothing. `alive` lets a waiting attempt whose connection closed step aside.
   */
  async attempt(key: string, check: () => Promise<boolean>, alive: () => boolean = () => true): Promise<boolean> {
    const e = this.entry(key);
    if (e.busy || e.waiters.length > 0 || this.now() < e.blockedUntil) {
      try {
        await this.wait(e, alive);
      } catch (err) {
        this.dropIfIdle(key, e);
        throw err;
      }
    } else {
      e.busy = true;
    }
    let ok: boolean;
    try {
      ok = await check();
    } catch (err) {
      this.finish(key, e);
      throw err;
    }
    if (ok) {
      e.failures = 0;
      e.blockedUntil = 0;
    } else {
      const now = this.now();
      e.failures = this.decayed(e) + 1;
      e.lastFailure = now;
      e.blockedUntil = now + this.delayAfter(e.failures);
    }
    this.finish(key, e);
    return ok;
  }

  private decayed(e: Entry): number {
    return e.failures > 0 && this.now() - e.lastFailure > this.opts.forgetMs ? 0 : e.failures;
  }

  private entry(key: string): Entry {
    let e = this.entries.get(key);
    if (e) {
      // Most recently used last: eviction starts at the front.
      this.entries.delete(key);
    } else {
      if (this.entries.size >= this.opts.maxEntries) this.evict();
      e = { failures: 0, lastFailure: 0, blockedUntil: 0, busy: false, waiters: [], timer: undefined };
    }
    this.entries.set(key, e);
    return e;
  }

  /** Drop idle entries from the least recently used end; refuse when none is idle. */
  private evict(): void {
    let scanned = 0;
    for (const [k, e] of this.entries) {
      if (this.entries.size < this.opts.maxEntries) return;
      if (scanned++ >= EVICT_SCAN) break;
      if (!e.busy && e.waiters.length === 0) this.entries.delete(k);
    }
    if (this.entries.size >= this.opts.maxEntries) throw new ThrottledError(this.opts.maxDelayMs);
  }

  private wait(e: Entry, alive: () => boolean): Promise<void> {
    return new Promise<void>((go, refuse) => {
      const w: Waiter = {
        go,
        refuse,
        alive,
        timer: setTimeout(() => {
          const i = e.waiters.indexOf(w);
          if (i >= 0) e.waiters.splice(i, 1);
          refuse(new ThrottledError(Math.max(e.blockedUntil - this.now(), this.opts.firstDelayMs)));
        }, this.opts.maxWaitMs).unref(),
      };
      e.waiters.push(w);
      if (e.waiters.length > this.maxWaiters) {
        const oldest = e.waiters.shift() as Waiter;
        clearTimeout(oldest.timer);
        oldest.refuse(new ThrottledError(this.opts.maxWaitMs));
      }
      this.pump(e);
    });
  }

  /** The check is over: let the next one in (now or once the delay has passed), or drop the entry. */
  private finish(key: string, e: Entry): void {
    e.busy = false;
    this.dropIfIdle(key, e);
    this.pump(e);
  }

  /** An entry without failures, waiters or a check in flight holds nothing worth keeping. */
  private dropIfIdle(key: string, e: Entry): void {
    if (!e.busy && e.waiters.length === 0 && e.failures === 0 && this.entries.get(key) === e) this.entries.delete(key);
  }

  private pump(e: Entry): void {
    if (e.busy || e.timer) return;
    const wait = e.blockedUntil - this.now();
    if (wait > 0) {
      if (e.waiters.length > 0) {
        e.timer = setTimeout(() => {
          e.timer = undefined;
          this.pump(e);
        }, wait).unref();
      }
      return;
    }
    for (let w = e.waiters.pop(); w; w = e.waiters.pop()) {
      clearTimeout(w.timer);
      if (!w.alive()) {
        w.refuse(new ThrottledError(0));
        continue;
      }
      e.busy = true;
      w.go();
      return;
    }
  }
}
