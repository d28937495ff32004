// The file backend's read cache: recently read files as text, and files known not to exist, so
// that the reads of every login (the account record, the roster most users do not have) cost no
// syscall while the cache is known to be valid.
//
// Valid how: other processes write into the same data directory while the server runs (`clove
// passwd`, `adduser`, `deluser`, `invite`, `import-prosody`), always by write-to-temp + rename
// (or unlink). So the cache watches each store directory it holds entries of (fs.watch, which is
// inotify on Linux; one watch per directory, at most WATCHED_DIRS_MAX): an event naming a file
// drops that file's entry; an event without a name, one for the directory itself (removed or
// moved: its watch is gone) or a watcher error drops every entry of the directory, and its next
// read sets the watch up again. The server's own writes drop their entry directly (forget()).
//
// A store directory that does not exist yet (no user has a roster) is watched through its nearest
// existing parent (the host's directory, or data_path): every file in it is known missing, on its
// first read too (a login storm of 2,000 users reads 2,000 different rosters), until an entry
// appears there or this process creates it, and then the directory itself is watched.
//
// Where no watch can be had (too many directories, inotify's limit reached (ENOSPC), no parent
// either) the entries are checked as before: one stat per read against the file's inode, mtime
// and size, which every rename changes; files that do not exist are not cached there. The watch
// is tried again later (a second; a minute after ENOSPC).
//
// The window: another process renames a new file into place; the kernel queues the event; the
// event loop reads it at its next poll. A read served between the rename and that poll returns
// the old text. That is the same guarantee as the stat path gave (its stat, then read, can
// straddle a rename as well): a change is seen by every read that starts after the event loop has
// taken in the change's event, i.e. within one turn of the loop. In practice a client cannot even
// tell: the kernel queues the event during the rename itself, before anything that could tell us
// about the change (the command's exit, a login sent after it) reaches our sockets, and epoll
// hands libuv ready descriptors in the order they became ready. What must never happen is caching
// old text for good: a read that was in flight when an event for its file (or a reset of its
// directory) came in is not cached, since the text it got may predate the change (see `Read`).
//
// Lost events: libuv drops inotify's queue overflow (IN_Q_OVERFLOW) without telling, and events
// can be lost where inotify does not see other writers (network file systems). So a watched
// entry is trusted for TRUST_MS at most, then read again: a lost event costs at most that much
// staleness, a hot file one read per TRUST_MS.

import { readFile as readFileCallback, watch, type FSWatcher } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { ByteLru } from './byte-lru.js';
import { isCode } from './fs-sync.js';

/** Characters of file text kept in all (path included), and the largest file kept. */
export const READ_CACHE_BYTES = 8 * 1024 * 1024;
const READ_CACHE_ENTRY_MAX = 64 * 1024;
/** Characters of paths kept for files known not to exist (a flood of logins for made-up names cannot push out real accounts). */
export const ABSENT_CACHE_BYTES = 1024 * 1024;
/** Store directories watched at once (hosts × stores); reads in more directories use the stat path. */
export const WATCHED_DIRS_MAX = 512;
/** A watched entry is read again after this long (ms, monotonic clock): bounds the staleness a lost event could cause. */
export const TRUST_MS = 60_000;
/** A directory that could not be watched is tried again after this long (ms). */
const WATCH_RETRY_MS = 1_000;
/** Parents of a store directory not created yet that may be watched instead: its host's directory, then data_path. */
const MISSING_DIR_LEVELS = 2;

/**
 * fs.readFile, not fs/promises' readFile: both take four trips to libuv's pool (open, fstat, read,
 * close), but the promise one wraps each in a FileHandle and a promise: ~100-120 µs of CPU per
 * small file here against ~60-70 (2,000 files read 100 at a time on one CPU). Every login reads
 * its account file.
 */
const readFile = promisify(readFileCallback);

/** A store directory's watch; `gen` moves on every reset, so entries cached before it are no longer trusted. */
interface DirWatch {
  readonly dir: string;
  watcher: FSWatcher | undefined;
  gen: number;
  retryAt: number;
  /** Until when (monotonic ms) the directory is known not to exist: its watcher is on a parent. 0 when it is on the directory itself. */
  missingUntil: number;
}

/** A cached file: trusted without a syscall while `watch` is alive at `gen` and before `until`; else checked by stat. */
interface Present {
  text: string;
  watch: DirWatch | undefined;
  gen: number;
  until: number;
  ino: number;
  mtimeMs: number;
  size: number;
}

/** A file known not to exist; only kept while its directory is watched. */
interface Absent {
  watch: DirWatch;
  gen: number;
  until: number;
}

/** A read in flight: `stale` once its file changed before the read ended (a directory's reset shows in its `gen`). */
interface Read {
  stale: boolean;
}

/** Read cache of the file backend (see the header). */
export class FileReadCache {
  private readonly present = new ByteLru<Present>(READ_CACHE_BYTES);
  private readonly absent = new ByteLru<Absent>(ABSENT_CACHE_BYTES);
  private readonly dirs = new Map<string, DirWatch>();
  private readonly inflight = new Map<string, Set<Read>>();
  private closed = false;

  /** The file's text, or null when it does not exist. */
  async read(file: string): Promise<string | null> {
    const now = performance.now();
    const p = this.present.get(file);
    if (p && trusted(p, now)) return p.text;
    if (!p) {
      const a = this.absent.get(file);
      if (a && trusted(a, now)) return null;
    }
    const w = this.watchDir(path.dirname(file), now);
    if (w && now < w.missingUntil) return null; // no directory, no file
    return w ? this.readWatched(file, w) : this.readChecked(file, p);
  }

  /** Drop what is cached of the file (this process changed it), and keep reads in flight from caching it. */
  forget(file: string): void {
    this.present.delete(file);
    this.absent.delete(file);
    const reads = this.inflight.get(file);
    if (reads) for (const r of reads) r.stale = true;
  }

  /** This process created the directory: watch it at its next read. */
  dirCreated(dir: string): void {
    const w = this.dirs.get(dir);
    if (w?.watcher && w.missingUntil > 0) this.reset(w, 0); // its parent's event may come later: stop trusting it now
    else if (w && !w.watcher) w.retryAt = 0;
  }

  /** Close every watcher; later reads use the stat path. */
  close(): void {
    this.closed = true;
    for (const w of this.dirs.values()) this.reset(w, Infinity);
    this.dirs.clear();
    this.present.clear();
    this.absent.clear();
  }

  /** Number of open watchers. */
  get watchers(): number {
    let n = 0;
    for (const w of this.dirs.values()) if (w.watcher) n++;
    return n;
  }

  private async readWatched(file: string, w: DirWatch): Promise<string | null> {
    const gen = w.gen;
    const r: Read = { stale: false };
    let reads = this.inflight.get(file);
    if (!reads) this.inflight.set(file, (reads = new Set()));
    reads.add(r);
    let text: string | null;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if (!isCode(e, 'ENOENT', 'ENOTDIR')) {
        this.forget(file);
        throw e;
      }
      text = null;
    } finally {
      reads.delete(r);
      if (reads.size === 0) this.inflight.delete(file);
    }
    if (r.stale || w.gen !== gen || !w.watcher) return text;
    const until = performance.now() + TRUST_MS;
    if (text === null) {
      this.present.delete(file);
      this.absent.set(file, { watch: w, gen, until }, file.length);
    } else {
      this.absent.delete(file);
      this.keep(file, { text, watch: w, gen, until, ino: 0, mtimeMs: 0, size: 0 });
    }
    return text;
  }

  /** The stat path: one stat, and the cached text when the file is still the one it was read from. */
  private async readChecked(file: string, cached: Present | undefined): Promise<string | null> {
    let info;
    try {
      info = await stat(file);
    } catch (e) {
      if (isCode(e, 'ENOENT', 'ENOTDIR')) {
        this.forget(file);
        return null;
      }
      throw e;
    }
    if (cached && cached.watch === undefined && cached.ino === info.ino && cached.mtimeMs === info.mtimeMs && cached.size === info.size) return cached.text;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      this.forget(file);
      if (isCode(e, 'ENOENT', 'ENOTDIR')) return null;
      throw e;
    }
    // Replaced between the stat and the read? Then the text is newer than `info`, and the next
    // read's stat (a new inode) misses and reads again: never an old text for a new file.
    this.absent.delete(file);
    this.keep(file, { text, watch: undefined, gen: 0, until: 0, ino: info.ino, mtimeMs: info.mtimeMs, size: info.size });
    return text;
  }

  private keep(file: string, p: Present): void {
    if (p.text.length > READ_CACHE_ENTRY_MAX) this.present.delete(file);
    else this.present.set(file, p, p.text.length + file.length);
  }

  /** The directory's live watch, setting it up when it has none (and may try now); undefined: use the stat path. */
  private watchDir(dir: string, now: number): DirWatch | undefined {
    let w = this.dirs.get(dir);
    // Known missing for TRUST_MS at most (a lost event): then look again.
    if (w?.watcher && w.missingUntil > 0 && now >= w.missingUntil) this.reset(w, 0);
    if (w?.watcher) return w;
    if (this.closed || (w && now < w.retryAt)) return undefined;
    if (!w) {
      if (this.dirs.size >= WATCHED_DIRS_MAX) return undefined;
      w = { dir, watcher: undefined, gen: 0, retryAt: 0, missingUntil: 0 };
      this.dirs.set(dir, w);
    }
    try {
      const found = this.startWatch(w);
      w.watcher = found?.watcher;
      w.missingUntil = found && found.target !== dir ? now + TRUST_MS : 0;
    } catch {
      // ENOSPC: inotify's watch limit; others alike: the stat path for a while.
      w.retryAt = now + TRUST_MS;
      return undefined;
    }
    if (w.watcher) return w;
    w.retryAt = now + WATCH_RETRY_MS; // neither it nor its parents exist (yet)
    return undefined;
  }

  /**
   * A watcher on the directory or, while it does not exist, on its nearest existing parent (at
   * most MISSING_DIR_LEVELS up): a directory not created yet holds no files, so files known
   * missing stay missing until an entry appears in that parent, and any event there resets
   * the watch (the next read watches the directory itself if it exists by then). After a parent's
   * watch starts, the levels below it are tried again: one made in between (whose creation that
   * watch did not see) is watched instead. fs.watch is synchronous (Node has no other form): this
   * runs once per directory and reset, not per read.
   */
  private startWatch(w: DirWatch): { watcher: FSWatcher; target: string } | undefined {
    let best: { watcher: FSWatcher; target: string } | undefined;
    for (;;) {
      const found = this.nearestWatchable(w, best?.target);
      if (!found) return best;
      best?.watcher.close();
      best = found;
      if (found.target === w.dir) return found;
    }
  }

  /** A watcher on the first of `w.dir` and its parents that exists, stopping before `stop`. */
  private nearestWatchable(w: DirWatch, stop: string | undefined): { watcher: FSWatcher; target: string } | undefined {
    let target = w.dir;
    for (let up = 0; up <= MISSING_DIR_LEVELS && target !== stop; up++, target = path.dirname(target)) {
      const own = target === w.dir;
      let watcher: FSWatcher;
      try {
        watcher = watch(target, { persistent: false }, (_event, name) => (own ? this.changed(w, name) : this.reset(w, 0)));
      } catch (e) {
        if (isCode(e, 'ENOENT', 'ENOTDIR')) continue;
        throw e;
      }
      watcher.on('error', () => this.reset(w, performance.now() + WATCH_RETRY_MS));
      return { watcher, target };
    }
    return undefined;
  }

  private changed(w: DirWatch, name: string | null): void {
    // No name, or the directory's own name (libuv reports IN_DELETE_SELF, IN_MOVE_SELF and
    // IN_IGNORED so): the watch may be gone; drop it all. Cached files are never named like
    // their directory (they end in .json or .log).
    if (name === null || name === path.basename(w.dir)) this.reset(w, 0);
    else this.forget(path.join(w.dir, name));
  }

  /** Stop trusting anything cached of the directory and close its watcher; watch again from `retryAt`. */
  private reset(w: DirWatch, retryAt: number): void {
    w.watcher?.close();
    w.watcher = undefined;
    w.gen++;
    w.missingUntil = 0;
    w.retryAt = retryAt; // reads in flight see the new `gen` and do not cache
  }
}

function trusted(e: { watch: DirWatch | undefined; gen: number; until: number }, now: number): boolean {
  return e.watch?.watcher !== undefined && e.gen === e.watch.gen && now < e.until;
}
