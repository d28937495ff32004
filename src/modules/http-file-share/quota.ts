// Bytes each user uploaded in the last 24 hours (http_file_share_daily_quota): 24 hourly counts
// per user at most, for a bounded number of users, so the table cannot grow with requests.

/** Users the table tracks at once; beyond, new users wait until old counts age out. */
export const MAX_TRACKED_USERS = 100_000;
const HOUR = 3_600_000;

/** Uploaded bytes per user over a sliding day, in hourly steps. */
export class DailyUse {
  private readonly users = new Map<string, Array<[hour: number, bytes: number]>>();

  constructor(private readonly maxUsers = MAX_TRACKED_USERS) {}

  /** Bytes `user` uploaded (or was granted slots for) in the 24 hours before `now`. */
  used(user: string, now: number): number {
    const since = Math.floor(now / HOUR) - 23;
    let sum = 0;
    for (const [h, b] of this.users.get(user) ?? []) if (h >= since) sum += b;
    return sum;
  }

  /** Count `bytes` for `user` at `at`; false when the table is full of other users. */
  add(user: string, bytes: number, at: number): boolean {
    const hour = Math.floor(at / HOUR);
    let list = this.users.get(user);
    if (!list) {
      if (this.users.size >= this.maxUsers) this.prune(at);
      if (this.users.size >= this.maxUsers) return false;
      list = [];
      this.users.set(user, list);
    }
    const last = list[list.length - 1];
    if (last && last[0] === hour) last[1] += bytes;
    else list.push([hour, bytes]);
    while (list.length && (list[0] as [number, number])[0] < hour - 23) list.shift();
    return true;
  }

  /** Forget users with nothing in the last day. */
  prune(now: number): void {
    for (const [user] of this.users) if (this.used(user, now) === 0) this.users.delete(user);
  }

  /** Users tracked (tests, metrics). */
  get size(): number {
    return this.users.size;
  }
}
