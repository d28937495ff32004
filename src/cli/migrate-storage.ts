// `clove migrate-storage FROM TO` (file, sql): copy every store of every host in the config
// (VirtualHosts and Components) from one backend to the other — files under data_path, the
// database of the `sql` option — as Prosody's prosody-migrator does. The server must be stopped.
// The destination must hold none of those stores' data, so nothing is ever overwritten or
// merged; afterwards, set `storage` to TO and start. Archives keep every item's time, `with` and
// payload in order; their ids are new (each backend makes its own id keys), so MAM clients fetch
// the history again once.
import type { Config } from '../config/config.js';
import { sqlSettings } from '../config/sql.js';
import { ServerError } from '../core/errors.js';
import { createFileBackend } from '../storage/file.js';
import { openSqlBackend } from '../storage/sql/backend.js';
import { STORE_SHAPES } from '../storage/shapes.js';
import { ARCHIVE_QUERY_MAX, type MapListing, type StorageBackend } from '../storage/store.js';

const USAGE = 'usage: clove migrate-storage FROM TO   (each "file" or "sql"; e.g. clove migrate-storage file sql)';
/** Users copied at once (reads and writes overlap; the SQL pool bounds the connections). */
const PARALLEL = 64;
type Backend = StorageBackend & MapListing;

async function open(config: Config, kind: string): Promise<Backend> {
  if (kind === 'file' || kind === 'internal') return createFileBackend(config.get<string>('data_path'));
  if (kind === 'sql') return openSqlBackend(sqlSettings(config));
  throw new ServerError('usage', `unknown storage '${kind}'; ${USAGE}`);
}

/** Run `f` over `items`, PARALLEL at a time. */
async function each<T>(items: readonly T[], f: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += PARALLEL) await Promise.all(items.slice(i, i + PARALLEL).map(f));
}

/** Users (or archive owners) of a store. */
function usersOf(b: Backend, host: string, store: string): Promise<string[]> {
  const shape = STORE_SHAPES[store]!;
  if (shape === 'keyval') return b.keyval(host, store).users();
  if (shape === 'map') return b.mapUsers(host, store);
  return b.archive(host, store).owners();
}

/** Copy one store; returns [users, archived items]. */
async function copyStore(from: Backend, to: Backend, host: string, store: string): Promise<[number, number]> {
  const shape = STORE_SHAPES[store]!;
  const users = await usersOf(from, host, store);
  let n = 0;
  let items = 0;
  if (shape === 'keyval') {
    const src = from.keyval<unknown>(host, store);
    const dst = to.keyval<unknown>(host, store);
    await each(users, async (u) => {
      const v = await src.get(u);
      if (v === undefined) return;
      await dst.set(u, v);
      n++;
    });
  } else if (shape === 'map') {
    const src = from.map<unknown>(host, store);
    const dst = to.map<unknown>(host, store);
    await each(users, async (u) => {
      const all = await src.getAll(u);
      if (Object.keys(all).length === 0) return;
      await dst.setAll(u, all);
      n++;
    });
  } else {
    const src = from.archive(host, store, { maxItems: Infinity, maxBytes: Infinity });
    const dst = to.archive(host, store, { maxItems: Infinity, maxBytes: Infinity });
    await each(users, async (owner) => {
      let after: string | undefined;
      for (;;) {
        const page = await src.query(owner, { limit: ARCHIVE_QUERY_MAX, ...(after !== undefined ? { after } : {}) });
        // One owner's items in order: appends to one owner must not overlap.
        for (const it of page.items) await dst.append(owner, { with: it.with, payload: it.payload, when: it.when });
        items += page.items.length;
        if (page.complete || page.items.length === 0) break;
        after = page.items[page.items.length - 1]!.id;
      }
      n++;
    });
  }
  return [n, items];
}

/** migrate-storage FROM TO */
export async function migrateStorage(config: Config, args: string[]): Promise<number> {
  if (args.length !== 2) throw new ServerError('usage', USAGE);
  const [fromKind, toKind] = args as [string, string];
  if (fromKind === toKind) throw new ServerError('usage', `FROM and TO are the same storage; ${USAGE}`);
  const hosts = [...config.virtualHosts(), ...config.components().map((c) => c.name)];
  const from = await open(config, fromKind);
  let to: Backend | undefined;
  try {
    to = await open(config, toKind);
    for (const host of hosts) {
      for (const store of Object.keys(STORE_SHAPES)) {
        if ((await usersOf(to, host, store)).length > 0) {
          throw new ServerError('storage', `the ${toKind} storage already holds data (${host}, store ${store}): migrate-storage copies into empty storage only`);
        }
      }
    }
    const out: string[] = [];
    for (const host of hosts) {
      const parts: string[] = [];
      for (const store of Object.keys(STORE_SHAPES)) {
        const [n, items] = await copyStore(from, to, host, store);
        if (n > 0) parts.push(`${n} ${store}${items ? ` (${items} items)` : ''}`);
      }
      out.push(`${host}: ${parts.length ? parts.join(', ') : 'nothing to copy'}`);
    }
    out.push(`copied ${fromKind} → ${toKind}; set storage = "${toKind}" in ${config.file} and start the server`);
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  } finally {
    await Promise.all([from.close(), to?.close()]);
  }
}
