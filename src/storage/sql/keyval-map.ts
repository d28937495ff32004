// The keyval and map shapes of the SQL backend. A keyval value is one row of clove_keyval; a
// map is one row per key in clove_map, so a change writes the rows it touches and no more. A
// change that spans rows (a whole map replaced, several queued changes of one map) is one
// transaction. Writes go through Pending (./pending.ts): in order per user, batched, bounded in bytes, and seen by
// reads before they commit.
import type { KeyValStore, MapStore } from '../store.js';
import { applyRecord, copyMap, type MapRecord } from '../map-log.js';
import type { KvMapTables } from './tables.js';
import { Pending } from './pending.js';
import { ChangeQueues } from '../change-queue.js';

/** A keyval change: the new JSON text, or null for a deletion. */
type KvChange = string | null;

function serialise(value: unknown): string {
  const s = JSON.stringify(value);
  if (s === undefined) throw new TypeError('value cannot be stored as JSON');
  return s;
}

function checkUser(user: string): void {
  if (user === '') throw new Error('empty user name');
}

const SEP = '\0';
/** host, store and user back from a pending key (host and store never hold NUL; a user might). */
function splitKey(key: string): [string, string, string] {
  const a = key.indexOf(SEP);
  const b = key.indexOf(SEP, a + 1);
  return [key.slice(0, a), key.slice(a + 1, b), key.slice(b + 1)];
}

/** Keyval and map stores over one database; pending changes are shared by every store object. */
export class SqlKeyValMaps {
  readonly kv: Pending<KvChange>;
  readonly maps: Pending<MapRecord>;

  constructor(
    private readonly tables: KvMapTables,
    isClosed: () => boolean,
    /** The byte bounds of changes waiting for a commit, shared by keyvals and maps. */
    readonly queues: ChangeQueues,
  ) {
    // A keyval transaction writes only the newest value: a new one replaces the one waiting.
    this.kv = new Pending<KvChange>((key, changes) => {
      const [host, store, user] = splitKey(key);
      return this.tables.writeKv(host, store, user, changes[changes.length - 1]!); // only the newest matters
    }, isClosed, queues, true);
    this.maps = new Pending<MapRecord>((key, changes) => this.flushMap(key, changes), isClosed, queues);
  }

  keyval<T>(host: string, store: string): KeyValStore<T> {
    const prefix = `${host}${SEP}${store}${SEP}`;
    return {
      get: async (user) => {
        const text = await this.kv.read(prefix + user, () => this.tables.readKv(host, store, user), (v, changes) => (changes.length ? changes[changes.length - 1]! : v));
        return text === null ? undefined : (JSON.parse(text) as T);
      },
      set: async (user, value) => {
        checkUser(user);
        const text = value === undefined ? null : serialise(value);
        return this.kv.change(prefix + user, text, text === null ? 0 : text.length);
      },
      users: async () => {
        const users = new Set(await this.tables.kvUsers(host, store));
        for (const [key, changes] of this.kv.entries()) {
          if (!key.startsWith(prefix)) continue;
          const user = key.slice(prefix.length);
          if (changes[changes.length - 1] === null) users.delete(user);
          else users.add(user);
        }
        return [...users].sort();
      },
    };
  }

  map<T>(host: string, store: string): MapStore<T> {
    const prefix = `${host}${SEP}${store}${SEP}`;
    const getAll = async (user: string): Promise<Record<string, T>> =>
      (await this.maps.read(prefix + user, () => this.readMap(host, store, user), (m, changes) => changes.reduce(applyRecord, copyMap(m)))) as Record<string, T>;
    const change = (user: string, r: MapRecord): Promise<void> => {
      checkUser(user);
      let bytes: number;
      try {
        bytes = serialise(r).length; // a value that is not JSON is refused now, not in the batch it would join
      } catch (e) {
        return Promise.reject(e);
      }
      return this.maps.change(prefix + user, r, bytes);
    };
    return {
      get: async (user, key) => {
        const all = await getAll(user);
        return Object.hasOwn(all, key) ? all[key] : undefined;
      },
      getAll,
      set: (user, key, value) => change(user, value === undefined ? { k: key } : { k: key, v: JSON.parse(serialise(value)) as unknown }),
      setAll: (user, all) => change(user, { all: copyMap(JSON.parse(serialise(all ?? {})) as Record<string, unknown>) }),
    };
  }

  /** Users with rows in a map store, and those with changes on the way. */
  async mapUsers(host: string, store: string): Promise<string[]> {
    const prefix = `${host}${SEP}${store}${SEP}`;
    const users = new Set(await this.tables.mapUsers(host, store));
    for (const [key] of this.maps.entries()) if (key.startsWith(prefix)) users.add(key.slice(prefix.length));
    return [...users].sort();
  }

  private async readMap(host: string, store: string, user: string): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const row of await this.tables.readMap(host, store, user)) Object.defineProperty(out, row.key, { value: JSON.parse(row.value), enumerable: true, writable: true, configurable: true });
    return out;
  }

  /** Write a map's queued changes in one transaction: a replacement deletes every row first; then upserts and deletions. */
  private async flushMap(key: string, changes: MapRecord[]): Promise<void> {
    const [host, store, user] = splitKey(key);
    let replace = false;
    // Net effect per key, in first-touched order (a key's row keeps its place when updated).
    const net = new Map<string, string | null>();
    for (const r of changes) {
      if ('all' in r) {
        replace = true;
        net.clear();
        for (const k of Object.keys(r.all)) net.set(k, serialise(r.all[k]));
      } else net.set(r.k, 'v' in r ? serialise(r.v) : null);
    }
    const up: Array<[string, string]> = [];
    const gone: string[] = [];
    for (const [k, v] of net) {
      if (v === null) gone.push(k);
      else up.push([k, v]);
    }
    if (replace || gone.length || up.length) await this.tables.writeMap(host, store, user, { replace, gone: replace ? [] : gone, up });
  }
}
