// User accounts of one host: SCRAM keys (what SASL checks) plus a bcrypt hash, never the
// password. Every expensive step runs off the event loop: PBKDF2 on libuv's thread pool,
// bcrypt on worker threads.
// References: RFC 5802 / RFC 7677 (stored keys), RFC 8265 (usernames, passwords).

import { randomBytes } from 'node:crypto';
import { JidError, prepLocal } from '../jid/jid.js';
import {
  DEFAULT_ITERATIONS,
  deriveScram,
  PasswordError,
  saslPrep,
  verifyScramPassword,
  type CredentialSource,
  type ScramCredential,
  type ScramHash,
} from '../sasl/credentials.js';
import { sharedBcryptPool, type PasswordHasher } from './bcrypt-pool.js';
import type { KeyValStore } from './store.js';

export interface AccountRecord {
  scram: { sha1: ScramCredential; sha256: ScramCredential };
  bcrypt: string;
  created: number; // ms since the epoch
}

export type AccountErrorCode = 'exists' | 'not-found' | 'invalid-username' | 'invalid-password';

/** A refused account operation; `code` is stable, the message is for people. */
export class AccountError extends Error {
  override name = 'AccountError';
  constructor(
    readonly code: AccountErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface AccountsOptions {
  /** bcrypt cost factor, 4..31 (default 10). */
  bcryptCost?: number;
  /** PBKDF2 iterations for new SCRAM keys (default 10000, as Prosody 0.12). */
  iterations?: number;
  /** Where bcrypt runs; defaults to the process-wide worker pool. */
  hasher?: PasswordHasher;
}

export class Accounts implements CredentialSource {
  readonly scramIterations: number;
  private readonly bcryptCost: number;
  private readonly hasher: PasswordHasher;
  private readonly locks = new Map<string, Promise<void>>();
  // Unknown users get the same PBKDF2 work as real ones, against a key nothing matches.
  private readonly decoy: ScramCredential;

  constructor(
    private readonly store: KeyValStore<AccountRecord>,
    opts: AccountsOptions = {},
  ) {
    this.bcryptCost = opts.bcryptCost ?? 10;
    this.scramIterations = opts.iterations ?? DEFAULT_ITERATIONS;
    if (!Number.isInteger(this.bcryptCost) || this.bcryptCost < 4 || this.bcryptCost > 31) throw new RangeError('bcryptCost must be an integer in 4..31');
    if (!Number.isInteger(this.scramIterations) || this.scramIterations < 1) throw new RangeError('iterations must be a positive integer');
    this.hasher = opts.hasher ?? sharedBcryptPool();
    this.decoy = {
      salt: randomBytes(16).toString('base64'),
      iterations: this.scramIterations,
      storedKey: randomBytes(32).toString('base64'),
      serverKey: randomBytes(32).toString('base64'),
    };
  }

  /** True when the account exists (false for names that cannot be usernames). */
  async exists(user: string): Promise<boolean> {
    const name = tryPrep(user);
    return name !== null && (await this.store.get(name)) !== undefined;
  }

  /** Create an account; AccountError 'exists' when it already does. */
  async create(user: string, password: string): Promise<void> {
    const name = prepUser(user);
    const prepared = prepPassword(password);
    await this.locked(name, async () => {
      if ((await this.store.get(name)) !== undefined) throw new AccountError('exists', `account '${name}' already exists`);
      await this.store.set(name, await this.makeRecord(prepared, Date.now()));
    });
  }

  /** Replace the password of an existing account; AccountError 'not-found' otherwise. */
  async setPassword(user: string, password: string): Promise<void> {
    const name = prepUser(user);
    const prepared = prepPassword(password);
    await this.locked(name, async () => {
      const old = await this.store.get(name);
      if (old === undefined) throw new AccountError('not-found', `no account '${name}'`);
      await this.store.set(name, await this.makeRecord(prepared, old.created));
    });
  }

  /** Delete an account; AccountError 'not-found' when there is none. */
  async remove(user: string): Promise<void> {
    const name = prepUser(user);
    await this.locked(name, async () => {
      if ((await this.store.get(name)) === undefined) throw new AccountError('not-found', `no account '${name}'`);
      await this.store.set(name, undefined);
    });
  }

  /** All usernames, sorted. */
  async list(): Promise<string[]> {
    return (await this.store.users()).sort();
  }

  async getScram(username: string, hash: ScramHash): Promise<ScramCredential | undefined> {
    const name = tryPrep(username);
    if (name === null) return undefined;
    return (await this.store.get(name))?.scram[hash];
  }

  /** Check a password against a stored SCRAM key (async PBKDF2, off the event loop); never bcrypt. */
  async verifyPlain(username: string, password: string): Promise<boolean> {
    const name = tryPrep(username);
    const rec = name === null ? undefined : await this.store.get(name);
    let prepared: string | null;
    try {
      prepared = saslPrep(password);
    } catch {
      prepared = null;
    }
    // Either stored key proves the password equally well; SHA-1's PBKDF2 is the cheaper of the
    // two to recompute (the same work Prosody does for PLAIN), so it goes first.
    const [cred, hash] = rec?.scram.sha1 ? [rec.scram.sha1, 'sha1' as const] : rec?.scram.sha256 ? [rec.scram.sha256, 'sha256' as const] : [this.decoy, 'sha1' as const];
    const match = await verifyScramPassword(cred, prepared ?? '', hash);
    const ok = match && cred !== this.decoy && prepared !== null;
    // Accounts imported from Prosody carry only SCRAM-SHA-1 keys; a PLAIN login is the one
    // moment the password is in hand, so complete the record (SCRAM-SHA-256 and bcrypt) then.
    if (ok && name !== null && rec && (!rec.scram.sha256 || !rec.bcrypt)) void this.complete(name, prepared as string);
    return ok;
  }

  /** Fill in the keys an imported record lacks, keeping its SCRAM-SHA-1 key and creation time. */
  private async complete(name: string, prepared: string): Promise<void> {
    await this.locked(name, async () => {
      const cur = await this.store.get(name);
      if (!cur || (cur.scram.sha256 && cur.bcrypt)) return;
      const full = await this.makeRecord(prepared, cur.created);
      await this.store.set(name, { ...full, scram: { sha1: cur.scram.sha1 ?? full.scram.sha1, sha256: full.scram.sha256 } });
    }).catch(() => { /* best effort: the login already succeeded */ });
  }

  private async makeRecord(prepared: string, created: number): Promise<AccountRecord> {
    const [sha1, sha256, bcrypt] = await Promise.all([
      deriveScram(prepared, 'sha1', this.scramIterations),
      deriveScram(prepared, 'sha256', this.scramIterations),
      this.hasher.hash(prepared, this.bcryptCost),
    ]);
    return { scram: { sha1, sha256 }, bcrypt, created };
  }

  /** Serialise changes to one account within this process (check-then-write must not interleave). */
  private async locked(name: string, f: () => Promise<void>): Promise<void> {
    const prev = this.locks.get(name) ?? Promise.resolve();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const mine = prev.then(() => gate);
    this.locks.set(name, mine);
    await prev;
    try {
      await f();
    } finally {
      release();
      if (this.locks.get(name) === mine) this.locks.delete(name);
    }
  }
}

function tryPrep(user: string): string | null {
  try {
    return prepLocal(user);
  } catch (e) {
    if (e instanceof JidError) return null;
    throw e;
  }
}

function prepUser(user: string): string {
  try {
    return prepLocal(user);
  } catch (e) {
    if (e instanceof JidError) throw new AccountError('invalid-username', `invalid username: ${e.message}`);
    throw e;
  }
}

function prepPassword(password: string): string {
  let p: string;
  try {
    p = saslPrep(password);
  } catch (e) {
    if (e instanceof PasswordError) throw new AccountError('invalid-password', e.message);
    throw e;
  }
  if (p === '') throw new AccountError('invalid-password', 'password is empty');
  return p;
}
