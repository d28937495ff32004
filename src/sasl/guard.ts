// The server's defence against password guessing, shared by every client connection:
// per-account pacing of checks (throttle/backoff.ts), a fixed delay before every <failure/>,
// and a log line per failed guess (user and connection, never the password or the SASL payload)
// that a flood cannot turn into a flood of log lines.

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff, ThrottledError, type BackoffOptions } from '../throttle/backoff.js';
import { SlidingWindow } from '../throttle/window.js';
import { SaslFailure, type Attempts } from './mechanism.js';
import type { Logger } from 'pino';

export interface AuthGuardOptions {
  /** Delay before every SASL <failure/>, in ms. */
  failureDelayMs: number;
  /** Per-account pacing (see Backoff). */
  backoff: BackoffOptions;
  /** Failure log lines per minute at most; the rest are counted in the next line. */
  logPerMinute?: number;
}

/** The connection an exchange runs on, as the guard sees it. */
export interface GuardedConnection {
  readonly host: string;
  readonly log: Logger;
  readonly state: string;
}

/** Failures of one account from which each further failure is logged as a warning. */
const WARN_FROM = 5;
/** Longest username written to the log, in characters (names come from strangers). */
const LOGGED_NAME = 64;

/** One per server: paces guesses per account over every connection and host. */
export class AuthGuard {
  readonly failureDelayMs: number;
  private readonly backoff: Backoff;
  private readonly logWindow: SlidingWindow;
  private suppressed = 0;

  constructor(opts: AuthGuardOptions) {
    this.failureDelayMs = opts.failureDelayMs;
    this.backoff = new Backoff(opts.backoff);
    this.logWindow = new SlidingWindow(opts.logPerMinute ?? 30, 60_000);
  }

  /** Accounts with recent failures (or checks in flight) being tracked. */
  get tracked(): number {
    return this.backoff.size;
  }

  /** The pacing a mechanism uses for exchanges on `conn`. */
  forConnection(conn: GuardedConnection): Attempts {
    return {
      check: async (username, verify) => {
        let ok: boolean;
        try {
          ok = await this.backoff.attempt(keyOf(conn.host, username), verify, () => conn.state !== 'closed');
        } catch (e) {
          if (!(e instanceof ThrottledError)) throw e;
          this.note(conn, username, 'authentication throttled for this account');
          throw new SaslFailure('temporary-auth-failure', `too many failed attempts for this account; try again in ${Math.ceil(e.retryAfterMs / 1000)} s`);
        }
        if (!ok) this.note(conn, username, 'authentication failed');
        return ok;
      },
    };
  }

  /** Wait the fixed delay every failure gets before it is answered. */
  async delayFailure(): Promise<void> {
    if (this.failureDelayMs > 0) await sleep(this.failureDelayMs, undefined, { ref: false });
  }

  private note(conn: GuardedConnection, username: string, msg: string): void {
    if (typeof this.logWindow.take() === 'number') {
      this.suppressed++;
      return;
    }
    const failures = this.backoff.failures(keyOf(conn.host, username));
    const fields: Record<string, unknown> = { user: username.slice(0, LOGGED_NAME), host: conn.host, failures };
    if (this.suppressed > 0) fields.unlogged = this.suppressed;
    this.suppressed = 0;
    if (failures >= WARN_FROM) conn.log.warn(fields, msg);
    else conn.log.info(fields, msg);
  }
}

/** A fixed-size key per host and account, so long names cost the table no more than short ones. */
function keyOf(host: string, username: string): string {
  return createHash('sha256').update(host).update('\0').update(username).digest('base64');
}
