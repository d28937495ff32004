// Archiving preferences by account, read through a bounded cache: every archived message asks
// for its owner's preferences, and most accounts never set any.
import type { KeyValStore } from '../../storage/store.js';
import { DEFAULT_PREFS, validPrefs, type ArchivePrefs } from './prefs.js';

/** Accounts whose preferences are kept in memory (about 200 bytes each without lists). */
export const PREFS_CACHE_ENTRIES = 10_000;

/** The 'archive_prefs' store with a cache; writes go to the store first. */
export class PrefsCache {
  private readonly cache = new Map<string, ArchivePrefs>();

  constructor(
    private readonly store: KeyValStore<ArchivePrefs>,
    /** What an account that set none has (default_archive_policy). */
    private readonly defaults: ArchivePrefs = DEFAULT_PREFS,
  ) {}

  /** The account's preferences (the defaults when it set none). */
  async get(user: string): Promise<ArchivePrefs> {
    const hit = this.cache.get(user);
    if (hit) {
      // Most recently used last, so the oldest entry is the first one evicted.
      this.cache.delete(user);
      this.cache.set(user, hit);
      return hit;
    }
    const stored = await this.store.get(user);
    const p = stored === undefined ? this.defaults : validPrefs(stored, this.defaults);
    this.remember(user, p);
    return p;
  }

  /** Store new preferences (undefined deletes them); resolves once durable. */
  async set(user: string, p: ArchivePrefs | undefined): Promise<void> {
    this.cache.delete(user);
    await this.store.set(user, p);
    this.remember(user, p ?? this.defaults);
  }

  private remember(user: string, p: ArchivePrefs): void {
    this.cache.set(user, p);
    if (this.cache.size > PREFS_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
  }
}
