// Builds the server-wide defences against password guessing from the config: the guard (pacing
// per account, failure delay, failure log), the cap on concurrent hashing, and the key of the
// stable fake salts (from the server secret in data_path).

import { randomBytes } from 'node:crypto';
import type { Config } from '../config/config.js';
import type { Logger } from 'pino';
import { Semaphore } from '../throttle/semaphore.js';
import { derivedKey, loadServerSecret } from './server-secret.js';
import { AuthGuard } from './guard.js';

export interface AuthDefences {
  guard: AuthGuard;
  hashing: Semaphore;
  fakeSaltKey: Buffer;
}

/** Failures of an account older than this are forgotten. */
const FORGET_MS = 10 * 60_000;
/** Longest an attempt waits for its account's turn (at least one full delay more). */
const MAX_WAIT_MS = 10_000;

/** Read the auth_* options and the server secret; one set per server, shared by its hosts. */
export async function setUpAuthDefences(config: Config, log: Logger): Promise<AuthDefences> {
  const seconds = (name: string): number => config.get<number>(name) * 1000;
  const maxDelayMs = seconds('auth_throttle_max_delay');
  const guard = new AuthGuard({
    failureDelayMs: seconds('auth_failure_delay'),
    backoff: {
      firstDelayMs: Math.min(seconds('auth_throttle_delay'), maxDelayMs),
      maxDelayMs,
      maxWaitMs: Math.max(MAX_WAIT_MS, maxDelayMs + 1000),
      maxEntries: config.get<number>('auth_throttle_max_entries'),
      forgetMs: FORGET_MS,
    },
  });
  const hashing = new Semaphore(config.get<number>('auth_hashing_concurrency'), config.get<number>('auth_hashing_queue'));
  const pool = Number(process.env.UV_THREADPOOL_SIZE) || 4; // Node's default
  if (hashing.limit >= pool) {
    log.warn(`auth_hashing_concurrency = ${hashing.limit} can take all ${pool} threads of libuv's pool, which file I/O shares; lower it or set UV_THREADPOOL_SIZE above it in the service's environment`);
  }
  const dataPath = config.get<string>('data_path');
  let secret: Buffer;
  try {
    secret = await loadServerSecret(dataPath);
  } catch (err) {
    // Logins still work; only the fake salts of unknown users change at each start.
    log.warn({ err: (err as Error).message }, `cannot keep a server secret in ${dataPath}; fake SCRAM salts for unknown users will change at each start`);
    secret = randomBytes(32);
  }
  return { guard, hashing, fakeSaltKey: derivedKey(secret, 'scram fake salt') };
}
