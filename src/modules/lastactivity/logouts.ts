// The last logout of each account (time and status), kept in a keyval store with writes coalesced:
// a client that goes offline and online again every second must not cost a disk write each time.
// Logouts wait in memory and are written together every WRITE_DELAY_MS (or sooner once the
// waiting ones reach PENDING_BYTES), so one account costs at most one write per interval; a crash
// loses at most the logouts of the last interval. Reads see waiting logouts first.
import type { KeyValStore } from '../../storage/store.js';

/** One account's last logout: when (Unix seconds) and the status of its unavailable presence. */
export interface LastLogout {
  t: number;
  status: string;
}

/** How long a logout may wait before it is written. */
export const WRITE_DELAY_MS = 30_000;
/** The waiting logouts are written at once when they hold this many bytes. */
export const PENDING_BYTES = 256 * 1024;
/** A status longer than this (UTF-8 bytes) is cut at a character boundary before it is kept. */
export const MAX_STATUS_BYTES = 1024;

/** `s` cut to at most `max` UTF-8 bytes without splitting a character. */
export function cutUtf8(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  let bytes = 0;
  let out = '';
  for (const ch of s) {
    bytes += Buffer.byteLength(ch);
    if (bytes > max) break;
    out += ch;
  }
  return out;
}

const entryBytes = (user: string, l: LastLogout): number => Buffer.byteLength(user) + Buffer.byteLength(l.status) + 32;

export class Logouts {
  private pending = new Map<string, LastLogout>();
  private pendingBytes = 0;
  /** Logouts being written now: still what reads must see until the write is done. */
  private writing = new Map<string, LastLogout>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: KeyValStore<LastLogout>,
    private readonly onError: (err: unknown) => void,
    private readonly delayMs = WRITE_DELAY_MS,
    private readonly maxPendingBytes = PENDING_BYTES,
  ) {}

  /** Remember a logout; it is written within the write delay, replacing any waiting one. */
  record(user: string, logout: LastLogout): void {
    const kept = { t: logout.t, status: cutUtf8(logout.status, MAX_STATUS_BYTES) };
    const old = this.pending.get(user);
    if (old) this.pendingBytes -= entryBytes(user, old);
    this.pending.set(user, kept);
    this.pendingBytes += entryBytes(user, kept);
    if (this.pendingBytes >= this.maxPendingBytes) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.delayMs).unref();
  }

  /** The last logout of `user`, waiting or stored. */
  async get(user: string): Promise<LastLogout | undefined> {
    return this.pending.get(user) ?? this.writing.get(user) ?? (await this.store.get(user));
  }

  /** Forget `user` (the account was deleted): nothing of it is written after this. */
  async forget(user: string): Promise<void> {
    const old = this.pending.get(user);
    if (old) this.pendingBytes -= entryBytes(user, old);
    this.pending.delete(user);
    await this.flushing;
    await this.store.set(user, undefined);
  }

  /** Write every waiting logout; resolves when they are durable. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      this.writing = this.pending;
      this.pending = new Map();
      this.pendingBytes = 0;
      try {
        await Promise.all([...this.writing].map(([user, l]) => this.store.set(user, l).catch(this.onError)));
      } finally {
        this.writing = new Map();
      }
    });
    return this.flushing;
  }
}
