// The file backend's map store: a user's map is a base file `<user>.json` (the whole map, as
// every version of Clove wrote it, so old data reads as it is) plus a change log `<user>.log`
// (./map-log.ts). set() appends one checksummed line and fsyncs it — bytes in proportion to
// the change — with concurrent changes to one map sharing a write and an fsync (the queue of
// ./change-queue.ts, bounded in bytes per map and over the backend). When the log
// outgrows max(COMPACT_MIN_BYTES, the base), the map is compacted: the base is rewritten
// atomically (temp file, fsync, rename) with the log applied, then the log is removed. A crash
// at any instant loses nothing acknowledged: a torn last line was never acknowledged and is cut
// off before the next append; a crash between the new base and the log's removal replays a log
// the base already holds, which changes nothing (every line sets, deletes or replaces).
import { open, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { StorageClosedError, type MapStore } from './store.js';
import { ChangeQueue, ChangeQueues } from './change-queue.js';
import { applyRecord, copyMap, encodeRecord, readLog, type MapRecord } from './map-log.js';
import { isCode, syncDir } from './fs-sync.js';
import { unwrapValue, wrapValue } from './file-names.js';

/** A log shorter than this is never compacted (however small the base). */
export const COMPACT_MIN_BYTES = 64 * 1024;
/** Maps whose log state is remembered between changes (idle ones are forgotten first). */
const STATES_MAX = 1024;

/** What the map store needs of the file backend. */
export interface MapFileIO {
  /** The file's text (or the newest queued write of it); null when there is none. */
  read(file: string): Promise<string | null>;
  /** Replace the file atomically (null deletes it); resolves once durable. */
  write(file: string, data: string | null): Promise<void>;
  /** Create a directory durably, once. */
  ensureDir(dir: string): Promise<void>;
  /** Run `f` alone among the tasks with the same key. */
  lock<R>(key: string, f: () => Promise<R>): Promise<R>;
  /** Drop what a read cache holds of the file (it was changed in place). */
  invalidate(file: string): void;
  isClosed(): boolean;
}

/** A user's map files: the base and its log, and the real name when the base's name is a hash. */
export interface MapFiles { base: string; log: string; long?: string }

/** What is known of one map between changes. */
interface LogState {
  /**
   * Changes not written yet, and the ones being written; reads apply both. Made at the map's
   * first change: most maps are only read (a session's PEP nodes at login), and a queue is
   * ~0.3 KB for as long as the state is remembered.
   */
  changes: ChangeQueue<MapRecord> | undefined;
  /** Bytes of the log known valid (undefined: read it first); of the base, when known. */
  logBytes: number | undefined;
  baseBytes: number | undefined;
  /** Counts compactions started and finished: a read spanning one starts again. */
  gen: number;
  compacting: Promise<void> | undefined;
}

export class FileMaps {
  private readonly states = new Map<string, LogState>();

  /** `queues`: the byte bounds of changes waiting for the disk. */
  constructor(
    private readonly io: MapFileIO,
    private readonly queues = new ChangeQueues(),
  ) {}

  /** The map store of the files `filesOf(user)` gives. */
  store<T>(filesOf: (user: string) => MapFiles): MapStore<T> {
    const getAll = async (user: string): Promise<Record<string, T>> => (await this.load(filesOf(user))) as Record<string, T>;
    return {
      get: async (user, key) => {
        const all = await getAll(user);
        return Object.hasOwn(all, key) ? all[key] : undefined;
      },
      getAll,
      set: (user, key, value) => this.change(filesOf(user), value === undefined ? { k: key } : { k: key, v: value }),
      // A whole new map is one line too; the drain compacts right after it.
      setAll: (user, all) => this.change(filesOf(user), { all: copyMap(all ?? {}) }),
    };
  }

  private state(f: MapFiles): LogState {
    let st = this.states.get(f.base);
    if (st) {
      this.states.delete(f.base); // most recently used goes last
      this.states.set(f.base, st);
      return st;
    }
    const fresh: LogState = {
      changes: undefined,
      logBytes: undefined,
      baseBytes: undefined,
      gen: 0,
      compacting: undefined,
    };
    this.states.set(f.base, fresh);
    if (this.states.size > STATES_MAX) {
      for (const [k, s] of this.states) {
        if (this.states.size <= STATES_MAX) break;
        if ((s.changes === undefined || s.changes.empty) && !s.compacting) this.states.delete(k);
      }
    }
    return fresh;
  }

  /** The map as the disk and the changes not yet written say. */
  private async load(f: MapFiles): Promise<Record<string, unknown>> {
    const st = this.state(f);
    for (let attempt = 0; ; attempt++) {
      if (st.compacting) await st.compacting.catch(() => undefined);
      const gen = st.gen;
      // The log first: if a compaction replaces the base after this, the base holds the log too.
      const logText = await this.io.read(f.log);
      const baseText = await this.io.read(f.base);
      if (gen !== st.gen && attempt < 3) continue;
      let map = parseBase(baseText, f);
      for (const r of logText === null ? [] : readLog(logText).records) map = applyRecord(map, r);
      if (st.changes) for (const r of st.changes.pending()) map = applyRecord(map, r);
      return map;
    }
  }

  /** Queue a change; resolves once it is durable, rejects with StorageBusyError past a bound. */
  private change(f: MapFiles, r: MapRecord): Promise<void> {
    if (this.io.isClosed()) return Promise.reject(new StorageClosedError());
    let line: string;
    try {
      line = encodeRecord(r); // a value that is not JSON is refused now, not in someone else's write
    } catch (e) {
      return Promise.reject(e);
    }
    const st = this.state(f);
    st.changes ??= new ChangeQueue<MapRecord>(this.queues, {
      write: (batch) => this.write(f, st, batch),
      around: (drain) => this.io.lock(f.base, drain),
    });
    return st.changes.add(r, line.length);
  }

  /** Resolves when no change is being written. */
  idle(): Promise<void> {
    return this.queues.idle();
  }

  /** Write one batch of queued changes: one append and one fsync, then a compaction if due. */
  private async write(f: MapFiles, st: LogState, batch: MapRecord[]): Promise<void> {
    try {
      await this.append(f, st, batch.map(encodeRecord).join(''));
    } catch (e) {
      st.logBytes = undefined; // read it again: a failed write may have left a torn tail
      throw e;
    }
    if (batch.some((r) => 'all' in r) || (st.logBytes ?? 0) > Math.max(COMPACT_MIN_BYTES, st.baseBytes ?? 0)) {
      await this.compact(f, st).catch(() => undefined); // the log still holds everything
    }
  }

  /** Append `text` to the log durably, cutting off a torn tail left by a crash first. */
  private async append(f: MapFiles, st: LogState, text: string): Promise<void> {
    const dir = path.dirname(f.log);
    await this.io.ensureDir(dir);
    if (st.baseBytes === undefined) st.baseBytes = await sizeOf(f.base);
    const fh = await open(f.log, 'a+', 0o600);
    try {
      const size = (await fh.stat()).size;
      if (st.logBytes === undefined || st.logBytes !== size) {
        // Unknown, or changed behind our back: only its valid part counts.
        const valid = readLog((await fh.readFile({ encoding: 'utf8' }))).validBytes;
        if (valid < size) {
          await fh.truncate(valid);
          this.io.invalidate(f.log);
          await fh.sync();
        }
        st.logBytes = valid;
      }
      await fh.write(text, null, 'utf8');
      this.io.invalidate(f.log);
      await fh.sync();
      if (st.logBytes === 0) await syncDir(dir); // a new file: its directory entry must last too
      st.logBytes += Buffer.byteLength(text);
    } finally {
      await fh.close();
    }
  }

  /** Rewrite the base with the log applied (atomically), then remove the log. Caller holds the lock. */
  private async compact(f: MapFiles, st: LogState): Promise<void> {
    let finish!: () => void;
    st.compacting = new Promise<void>((r) => (finish = r));
    st.gen++;
    try {
      const baseText = await this.io.read(f.base);
      const logText = await this.io.read(f.log);
      let map = parseBase(baseText, f);
      for (const r of logText === null ? [] : readLog(logText).records) map = applyRecord(map, r);
      const data = Object.keys(map).length === 0 ? null : wrapValue(map, f.long);
      await this.io.write(f.base, data);
      st.baseBytes = data === null ? 0 : Buffer.byteLength(data);
      try {
        await unlink(f.log);
      } catch (e) {
        if (!isCode(e, 'ENOENT')) throw e;
      }
      await syncDir(path.dirname(f.log));
      st.logBytes = 0;
    } finally {
      st.gen++;
      st.compacting = undefined;
      finish();
    }
  }
}

function parseBase(text: string | null, f: MapFiles): Record<string, unknown> {
  if (text === null) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${f.base}: not valid JSON`, { cause: e });
  }
  return copyMap(unwrapValue<Record<string, unknown>>(parsed, f.long) ?? {});
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (e) {
    if (isCode(e, 'ENOENT', 'ENOTDIR')) return 0;
    throw e;
  }
}

