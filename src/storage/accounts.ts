// User accounts of one host: SCRAM keys (what SASL checks, for SCRAM and PLAIN alike), never the
// password; a bcrypt hash too only when asked (`clove_store_bcrypt`): logins never read it, and
// at ~45 ms of CPU per hash it made batch account creation 10x slower. Every expensive step runs
// off the event loop: PBKDF2 on libuv's thread pool, bcrypt on worker threads.
// References: RFC 5802 / RFC 7677 (stored keys), RFC 8265 (usernames, passwords).
//
// Accounts imported from Prosody carry only SCRAM-SHA-1 keys. SASL mechanisms are offered before
// the user is known, so while any such account exists on a host, SCRAM-SHA-256 must not be
// offered there (a client picking it would fail). Which users lack SHA-256 keys is kept in one
// bookkeeping record of the same store (key SHA1_ONLY_KEY), loaded once and held in memory:
// import adds to it before writing the record; a completed record (PLAIN login), a new password
// or a deletion removes from it after writing. A crash in between leaves a stale entry, which is
// harmless (SCRAM-SHA-256 stays off) and dropped at the next load, which re-checks each entry.

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
import { Semaphore } from '../throttle/semaphore.js';
import type { KeyValStore } from './store.js';

export interface AccountRecord {
  scram: { sha1: ScramCredential; sha256: ScramCredential };
  /** A bcrypt hash of the password, only with `storeBcrypt`; '' or absent otherwise. */
  bcrypt?: string;
  created: number; // ms since the epoch
}

/**
 * Key of the bookkeeping record (usernames whose records lack SCRAM-SHA-256 keys) in the accounts
 * store. '@' never occurs in a prepared username, so it cannot clash with an account.
 */
export const SHA1_ONLY_KEY = '@sha1-only';

interface Sha1OnlyRecord {
  users: string[];
}

/** Reads per batch when checking records (bounded, so a large host does not open every file at once). */
const CHECK_BATCH = 32;

/**
 * Usernames whose records lack SCRAM-SHA-256 keys. Each entry of the stored list is checked
 * against its record; when the list was never written (accounts imported by an older Clove) or
 * cannot be read, every record is checked once. With `persist`, the checked list is written back
 * when it differs from what was stored.
 */
export async function sha1OnlyUsers(store: KeyValStore<AccountRecord>, persist: boolean): Promise<string[]> {
  const stored = await readSha1Only(store);
  const candidates = stored ?? (await store.users()).filter((u) => u !== SHA1_ONLY_KEY);
  const lacking: string[] = [];
  for (let i = 0; i < candidates.length; i += CHECK_BATCH) {
    const batch = candidates.slice(i, i + CHECK_BATCH);
    const recs = await Promise.all(batch.map((u) => store.get(u).then((r) => r ?? null, () => 'unreadable' as const)));
    // An unreadable record is kept on the list: SCRAM-SHA-256 stays off rather than fail someone.
    batch.forEach((u, j) => {
      const r = recs[j];
      if (r === 'unreadable' || (r !== null && r !== undefined && !r.scram?.sha256)) lacking.push(u);
    });
  }
  lacking.sort();
  // A store without the list gets one even when it is empty: accounts created later keep it true,
  // and the next start reads that one record instead of every account (a full scan competes with
  // the first logins for the disk and the CPU).
  const changed = stored === undefined || lacking.length !== stored.length;
  if (persist && changed) await writeSha1Only(store, lacking);
  return lacking;
}

async function readSha1Only(store: KeyValStore<AccountRecord>): Promise<string[] | undefined> {
  let rec: unknown;
  try {
    rec = await (store as unknown as KeyValStore<Sha1OnlyRecord>).get(SHA1_ONLY_KEY);
  } catch {
    return undefined; // derived data: rebuild it from the records
  }
  const users = (rec as Partial<Sha1OnlyRecord> | undefined)?.users;
  return Array.isArray(users) ? users.filter((u): u is string => typeof u === 'string') : undefined;
}

function writeSha1Only(store: KeyValStore<AccountRecord>, users: string[]): Promise<void> {
  return (store as unknown as KeyValStore<Sha1OnlyRecord>).set(SHA1_ONLY_KEY, { users: [...users].sort() });
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
  /** Also store a bcrypt hash of each new password (default false: SCRAM keys only). */
  storeBcrypt?: boolean;
  /** PBKDF2 iterations for new SCRAM keys (default 10000, as Prosody 0.12). */
  iterations?: number;
  /** Where bcrypt runs; defaults to the process-wide worker pool. */
  hasher?: PasswordHasher;
  /** Never write the bookkeeping record while loading it (`import-prosody --dry-run`); default false. */
  readOnly?: boolean;
  /**
   * Caps PBKDF2 and bcrypt work running at once; the server shares one over all hosts. A login
   * refused by its full queue fails (temporary-auth-failure); account changes wait their turn.
   */
  hashing?: Semaphore;
  /** Key of the stable fake SCRAM salts for unknown users (derived from the server secret). */
  fakeSaltKey?: Buffer;
}

export class Accounts implements CredentialSource {
  readonly scramIterations: number;
  readonly fakeSaltKey: Buffer | undefined;
  private readonly bcryptCost: number;
  private readonly storeBcrypt: boolean;
  private readonly hashing: Semaphore;
  private readonly hasher: PasswordHasher;
  private readonly locks = new Map<string, Promise<void>>();
  // Unknown users get the same PBKDF2 work as real ones, against a key nothing matches.
  private readonly decoy: ScramCredential;
  // Usernames lacking SCRAM-SHA-256 keys; undefined until loaded (or when loading failed).
  private sha1Only: Set<string> | undefined;
  // Changes to the bookkeeping record, one at a time, after the initial load.
  private sha1OnlyQueue: Promise<unknown>;
  /** Resolves once the list of accounts lacking SCRAM-SHA-256 keys is loaded (never rejects). */
  readonly ready: Promise<void>;

  constructor(
    private readonly store: KeyValStore<AccountRecord>,
    opts: AccountsOptions = {},
  ) {
    this.bcryptCost = opts.bcryptCost ?? 10;
    this.storeBcrypt = opts.storeBcrypt ?? false;
    this.scramIterations = opts.iterations ?? DEFAULT_ITERATIONS;
    if (!Number.isInteger(this.bcryptCost) || this.bcryptCost < 4 || this.bcryptCost > 31) throw new RangeError('bcryptCost must be an integer in 4..31');
    if (!Number.isInteger(this.scramIterations) || this.scramIterations < 1) throw new RangeError('iterations must be a positive integer');
    // The worker pool (and bcryptjs) is only reached for when a bcrypt hash is wanted.
    this.hasher = opts.hasher ?? { hash: (password, cost) => sharedBcryptPool().hash(password, cost) };
    this.hashing = opts.hashing ?? new Semaphore(2);
    this.fakeSaltKey = opts.fakeSaltKey;
    this.decoy = {
      salt: randomBytes(16).toString('base64'),
      iterations: this.scramIterations,
      storedKey: randomBytes(32).toString('base64'),
      serverKey: randomBytes(32).toString('base64'),
    };
    // Loaded at once (one small read in the usual case), so it is known before listeners open.
    this.ready = sha1OnlyUsers(store, !opts.readOnly).then(
      (users) => void (this.sha1Only = new Set(users)),
      () => undefined, // unknown: allHaveSha256() stays false, which every client can live with
    );
    this.sha1OnlyQueue = this.ready;
  }

  /**
   * True when every account of this host has SCRAM-SHA-256 keys, so SCRAM-SHA-256 can be offered.
   * False while the list is loading or could not be loaded (the conservative answer: SCRAM-SHA-1
   * and PLAIN work for every account). Synchronous: asked on every stream.
   */
  allHaveSha256(): boolean {
    return this.sha1Only !== undefined && this.sha1Only.size === 0;
  }

  /** How many accounts lack SCRAM-SHA-256 keys; undefined until loaded or when loading failed. */
  sha1OnlyCount(): number | undefined {
    return this.sha1Only?.size;
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
      await this.clearSha1Only(name);
    });
  }

  /** Delete an account; AccountError 'not-found' when there is none. */
  async remove(user: string): Promise<void> {
    const name = prepUser(user);
    await this.locked(name, async () => {
      if ((await this.store.get(name)) === undefined) throw new AccountError('not-found', `no account '${name}'`);
      await this.store.set(name, undefined);
      await this.clearSha1Only(name);
    });
  }

  /**
   * Store an account that has only a SCRAM-SHA-1 key (imported from Prosody's internal_hashed),
   * listing it first as lacking SCRAM-SHA-256 keys. AccountError 'exists' when it already exists.
   */
  async importSha1Only(user: string, sha1: ScramCredential, created = Date.now()): Promise<void> {
    const name = prepUser(user);
    await this.locked(name, async () => {
      if ((await this.store.get(name)) !== undefined) throw new AccountError('exists', `account '${name}' already exists`);
      await this.updateSha1Only(name, true);
      await this.store.set(name, { scram: { sha1 } as AccountRecord['scram'], created });
    });
  }

  /** All usernames, sorted. */
  async list(): Promise<string[]> {
    return (await this.store.users()).filter((u) => u !== SHA1_ONLY_KEY).sort();
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
    const match = await this.hashing.run(() => verifyScramPassword(cred, prepared ?? '', hash), true);
    const ok = match && cred !== this.decoy && prepared !== null;
    // Accounts imported from Prosody carry only SCRAM-SHA-1 keys; a PLAIN login is the one
    // moment the password is in hand, so complete the record (SCRAM-SHA-256, and bcrypt when kept) then.
    if (ok && name !== null && rec && !this.isComplete(rec)) void this.complete(name, prepared as string);
    return ok;
  }

  /** Fill in the keys an imported record lacks, keeping its SCRAM-SHA-1 key and creation time. */
  private async complete(name: string, prepared: string): Promise<void> {
    await this.locked(name, async () => {
      const cur = await this.store.get(name);
      if (!cur || this.isComplete(cur)) return;
      const full = await this.makeRecord(prepared, cur.created);
      await this.store.set(name, { ...full, scram: { sha1: cur.scram.sha1 ?? full.scram.sha1, sha256: full.scram.sha256 } });
      await this.clearSha1Only(name);
    }).catch(() => { /* best effort: the login already succeeded */ });
  }

  /** Whether a record has everything this instance stores for a new password. */
  private isComplete(rec: AccountRecord): boolean {
    return rec.scram.sha256 !== undefined && (!this.storeBcrypt || !!rec.bcrypt);
  }

  /**
   * The record of `name` now has SCRAM-SHA-256 keys (or is gone): drop it from the list. Failures
   * are swallowed: the account change itself succeeded, and a stale entry only keeps SCRAM-SHA-256
   * off until the next load drops it.
   */
  private async clearSha1Only(name: string): Promise<void> {
    // Loaded and not listed (every native account): no I/O at all.
    if (this.sha1Only !== undefined && !this.sha1Only.has(name)) return;
    await this.updateSha1Only(name, false).catch(() => undefined);
  }

  /** Add or remove one name, read-modify-write on the stored list (another process may have changed it). */
  private updateSha1Only(name: string, lacking: boolean): Promise<void> {
    const run = async (): Promise<void> => {
      const list = new Set((await readSha1Only(this.store)) ?? this.sha1Only ?? []);
      const had = list.has(name);
      if (lacking) list.add(name);
      else list.delete(name);
      if (had !== lacking) await writeSha1Only(this.store, [...list]);
      if (this.sha1Only !== undefined) this.sha1Only = list;
    };
    const p = this.sha1OnlyQueue.then(run);
    this.sha1OnlyQueue = p.catch(() => undefined);
    return p;
  }

  private async makeRecord(prepared: string, created: number): Promise<AccountRecord> {
    const [sha1, sha256, bcrypt] = await Promise.all([
      this.hashing.run(() => deriveScram(prepared, 'sha1', this.scramIterations)),
      this.hashing.run(() => deriveScram(prepared, 'sha256', this.scramIterations)),
      this.storeBcrypt ? this.hashing.run(() => this.hasher.hash(prepared, this.bcryptCost)) : undefined,
    ]);
    return bcrypt === undefined ? { scram: { sha1, sha256 }, created } : { scram: { sha1, sha256 }, bcrypt, created };
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
    p = saslPrep(password, { stored: true });
  } catch (e) {
    if (e instanceof PasswordError) throw new AccountError('invalid-password', e.message);
    throw e;
  }
  if (p === '') throw new AccountError('invalid-password', 'password is empty');
  return p;
}
