// `clove import-prosody --from-sql PROSODY_CONFIG`: Prosody's SQL storage (mod_storage_sql), read
// from PostgreSQL or SQLite (./sql-rows.ts), written out as Prosody's internal storage would hold
// it, so the file import (./command.ts) reads it unchanged.
//
// Prosody's tables (plugins/mod_storage_sql.lua, read from Prosody's source):
// - `prosody` (host, user, store, key, type, value): a keyval store's table is one row per
//   string key; its other keys (a stanza's children, a roster's [false] metadata) are one row
//   with key "" holding them as JSON. `type` says how `value` is written: "string", "number",
//   "boolean" (tostring), "json" (util.json: a table with non-string keys becomes
//   {"__hash": [k1, v1, …], "__array": […]}) or "xml" (a serialised stanza).
// - `prosodyarchive` (sort_id, host, user, store, key, when, with, type, value): one row per
//   archived item (offline messages, mod_mam's archive), `when` in seconds, in sort_id order.
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataTable, type DataValue } from '../../config/lua/data-file.js';
import { parseElement } from '../../xml/parse.js';
import type { Element } from '../../xml/element.js';
import { prosodyEncode } from './data.js';
import type { KeyvalRow, ProsodyRows } from './sql-rows.js';

/** The keyval stores the import reads. */
const KEYVAL_STORES = ['accounts', 'roster', 'vcard', 'private'];
/** The archive stores the import reads. */
const ARCHIVE_STORES = ['offline', 'archive'];

/** A stanza as util.stanza's preserialised table: { name, attr, [1..n] = children }. */
function stanzaTable(el: Element): DataTable {
  const t = new DataTable();
  t.hash.set('name', el.name);
  const attr = new DataTable();
  for (const [k, v] of Object.entries(el.attrs)) if (v !== undefined) attr.hash.set(k, v);
  t.hash.set('attr', attr);
  el.children.forEach((c, i) => t.hash.set(i + 1, typeof c === 'string' ? c : stanzaTable(c)));
  return t;
}

/** util.json's value → a Lua table as the file store would hold it. */
function fromJson(v: unknown): DataValue {
  if (v === null || typeof v !== 'object') return v as DataValue;
  const t = new DataTable();
  if (Array.isArray(v)) {
    v.forEach((x, i) => t.hash.set(i + 1, fromJson(x)));
    return t;
  }
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (k === '__hash' && Array.isArray(x)) {
      for (let i = 0; i + 1 < x.length; i += 2) t.hash.set(x[i] as string | number | boolean, fromJson(x[i + 1]));
    } else if (k === '__array' && Array.isArray(x)) x.forEach((y, i) => t.hash.set(i + 1, fromJson(y)));
    else t.hash.set(k, fromJson(x));
  }
  return t;
}

/** mod_storage_sql's deserialize(): a row's value by its type. */
function deserializeValue(type: string, value: string): DataValue {
  switch (type) {
    case 'string': return value;
    case 'number': return Number(value);
    case 'boolean': return value === 'true';
    case 'json': return fromJson(JSON.parse(value));
    case 'xml': return stanzaTable(parseElement(value));
    default: throw new Error(`unknown value type '${type}'`);
  }
}

/** A row's value; one that cannot be read stops the export with a message naming the row. */
function deserialize(r: KeyvalRow, host: string): DataValue {
  try {
    return deserializeValue(r.type, r.value);
  } catch (e) {
    throw new Error(`Prosody's ${r.store} store of ${r.user}@${host}, key '${r.key}': ${(e as Error).message}`);
  }
}

/** A Lua literal of `v` (what util.serialization writes, read back by ../config/lua/data-file.ts). */
function lua(v: DataValue): string {
  if (v === null) return 'nil';
  if (typeof v === 'string') return `"${v.replace(/[\\"\x00-\x1f\x7f]/g, (c) => `\\${c.charCodeAt(0).toString().padStart(3, '0')}`)}"`;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('a number that is not finite');
    return String(v);
  }
  if (typeof v === 'boolean') return String(v);
  const parts: string[] = [];
  for (const [k, x] of v.hash) parts.push(`[${lua(k)}] = ${lua(x)}`);
  return `{ ${parts.join('; ')} }`;
}

/** Characters of archive items gathered before they are appended to their file. */
const LIST_CHUNK = 1 << 20;

/** The file a keyval or archive store of Prosody's internal storage would have (its directory made). */
async function storeFile(dir: string, host: string, store: string, user: string, ext: '.dat' | '.list'): Promise<string> {
  const d = join(dir, prosodyEncode(host), store);
  await mkdir(d, { recursive: true, mode: 0o700 });
  return join(d, prosodyEncode(user) + ext);
}

/** What an export wrote: the hosts that had data, and the users whose archive was cut to the newest. */
export interface SqlExport {
  hosts: string[];
  /** One line per user whose archive held more than Clove keeps. */
  cut: string[];
}

/**
 * Write Prosody's SQL storage for `hosts` into `dir` (laid out as Prosody's data directory). Of a
 * user's archive only the newest `archiveMax(host)` messages are written: what Clove keeps of
 * more (its storage_archive_item_limit), which also bounds each file the import reads. Once
 * `stop` is aborted no further file is written: the export throws its AbortError instead.
 */
export async function exportProsodySql(rows: ProsodyRows, hosts: readonly string[], dir: string, archiveMax: (host: string) => number, stop?: AbortSignal): Promise<SqlExport> {
  const tables = await rows.tables();
  if (!tables.keyval) throw new Error(`${rows.label} has no table "prosody": not Prosody's SQL storage`);
  const found = new Set<string>();
  const cut: string[] = [];
  for (const host of hosts) {
    const tablesOf = new Map<string, DataTable>();
    for (const r of await rows.keyval(host, KEYVAL_STORES)) {
      const id = `${r.store}\0${r.user}`;
      let t = tablesOf.get(id);
      if (!t) tablesOf.set(id, (t = new DataTable()));
      const v = deserialize(r, host);
      // The "" row holds the table's non-string keys (keyval_store_get merges them back).
      if (r.key === '' && v instanceof DataTable) for (const [k, x] of v.hash) t.hash.set(k, x);
      else t.hash.set(r.key, v);
    }
    for (const [id, t] of tablesOf) {
      const [store, user] = id.split('\0') as [string, string];
      stop?.throwIfAborted();
      await writeFile(await storeFile(dir, host, store, user, '.dat'), `return ${lua(t)};\n`, { mode: 0o600 });
      found.add(host);
    }
    if (!tables.archive) continue;
    // Rows come ordered by store and user: each user's items are appended to its file a chunk at
    // a time, so memory holds one chunk, whatever the size of the archives.
    let list: { id: string; file: string; text: string } | undefined;
    const flush = async (): Promise<void> => {
      if (!list || list.text === '') return;
      stop?.throwIfAborted();
      await appendFile(list.file, list.text, { mode: 0o600 });
      list.text = '';
    };
    const max = archiveMax(host);
    await rows.archive(host, ARCHIVE_STORES, max, async (page) => {
      for (const r of page) {
        const v = deserialize(r, host);
        if (!(v instanceof DataTable)) continue;
        v.hash.set('key', r.key);
        v.hash.set('when', r.when);
        v.hash.set('with', r.with);
        const id = `${r.store}\0${r.user}`;
        if (list?.id !== id) {
          await flush();
          stop?.throwIfAborted();
          list = { id, file: await storeFile(dir, host, r.store, r.user, '.list'), text: '' };
          found.add(host);
          if (r.store === 'archive' && r.total > max) cut.push(`${r.user}@${host}: the newest ${max} of ${r.total} archived messages (storage_archive_item_limit)`);
        }
        list.text += `item(${lua(v)});\n`;
        if (list.text.length >= LIST_CHUNK) await flush();
      }
    });
    await flush();
  }
  return { hosts: [...found], cut };
}
