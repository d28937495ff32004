// The message archive part of `clove import-prosody`: Prosody's mod_mam history
// (mod_storage_internal's archive store: <data>/<enc(host)>/archive/<enc(user)>.list, one
// `item({…})` per message, appended in order) → Clove's 'archive' store, oldest first.
//
// Prosody 0.12 facts (read from /usr/lib/prosody: util/datamanager.lua, mod_storage_internal.lua,
// mod_mam/mod_mam.lua): each item is the preserialised message ({name, attr, children}) with
// `key` (the archive id), `when` (os.time(): seconds since the epoch; later versions write
// fractions), `with` (the other party's bare JID) and attr.stamp (the same time as XEP-0082,
// added by the storage). 0.12 keeps no index beside the .list file. Clove gives each imported
// message its own archive id: the ids Prosody's clients saw are not kept (a client pages its
// history again from the start).
//
// The file is read whole (bounded by ARCHIVE_IMPORT_FILE_MAX) and its items are taken one at a
// time by the shared Lua data reader, so a large archive is never all in memory as tables.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { listItems, type DataValue } from '../../config/lua/data-file.js';
import { tryParseJid } from '../../jid/jid.js';
import { fromJSON } from '../../xml/json.js';
import { parseElement } from '../../xml/parse.js';
import { ARCHIVE_PAYLOAD_MAX, ArchiveQuotaError, type ArchiveLimits, type ArchiveStore, type KeyValStore } from '../../storage/store.js';
import { recordSize } from '../../storage/archive/record.js';
import { bareJid, Skip, table, toElement } from './data.js';

/** Largest archive .list file the import reads (Prosody itself loads the whole file on every query). */
export const ARCHIVE_IMPORT_FILE_MAX = 256 * 1024 * 1024;
/** Appends handed to the store at once (it writes them as one group commit). */
const BATCH = 256;

/** One message as Clove's archive keeps it. */
export interface ArchivedMessage {
  when: number;
  with: string;
  payload: string;
}

/** What one user's archive import did. */
export interface ArchiveImport {
  result: 'imported' | 'unchanged';
  /** Messages appended (or that would be, in a dry run). */
  messages: number;
  /** Items not imported, each with its reason (item numbers count from 1 in file order). */
  skipped: string[];
}

/** One Prosody archive item → Clove's message, or an error saying why it cannot be. */
export function toArchived(v: DataValue, owner: string): ArchivedMessage {
  const t = table(v, 'archive item');
  const el = toElement(t);
  if (el.n !== 'message') throw new Error(`<${el.n}/> is not a message`);
  const a = el.a ?? {};
  const stamp = a.stamp;
  delete a.stamp;
  delete a.stamp_legacy;
  // As the mam module stores a message (src/modules/mam/policy.ts storedCopy): in jabber:client.
  el.a = { ...a, xmlns: 'jabber:client' };

  const whenRaw = t.get('when');
  let when: number;
  if (typeof whenRaw === 'number' && Number.isFinite(whenRaw) && whenRaw >= 0) when = Math.round(whenRaw * 1000);
  else if (stamp !== undefined && Number.isFinite(Date.parse(stamp))) when = Date.parse(stamp);
  else throw new Error('no time (neither when nor stamp)');

  const w = t.get('with');
  const withJid = w !== undefined ? bareJid(w) : otherParty(a.from, a.to, owner);
  const payload = fromJSON(el).toString();
  if (Buffer.byteLength(payload) > ARCHIVE_PAYLOAD_MAX) throw new Error(`message larger than ${ARCHIVE_PAYLOAD_MAX} bytes`);
  // What the MAM module will parse back must be one well-formed element.
  parseElement(payload);
  return { when, with: withJid, payload };
}

/** The bare JID of whichever of from/to is not the owner (mod_mam's rule when `with` is missing). */
function otherParty(from: string | undefined, to: string | undefined, owner: string): string {
  const bare = (s: string | undefined): string | undefined => (s === undefined ? undefined : tryParseJid(s)?.bare().toString());
  const f = bare(from);
  const other = f === owner ? bare(to) : f;
  if (!other) throw new Error('no with, and no from/to to take it from');
  return other;
}

/** Every convertible message of a .list file, in file order, with the items that are not. */
function* messages(data: Buffer, owner: string, skipped: string[]): Generator<ArchivedMessage> {
  let n = 0;
  for (const v of listItems(data)) {
    n++;
    try {
      yield toArchived(v, owner);
    } catch (err) {
      skipped.push(`item ${n}: ${(err as Error).message}`);
    }
  }
}

/** Where a user's archive import stands in the 'import_prosody' marks. */
export interface ArchiveMarks {
  get(): Promise<string | undefined>;
  set(mark: string): Promise<void>;
}

/**
 * Import one user's archive file into `store` under `owner` (the bare JID is `ownerJid`).
 * Idempotent: the file's digest is marked when done ("<digest>") and while under way
 * ("partial <digest>"), so an interrupted import resumes where it stopped and a second run is
 * a no-op. A Clove archive that already has messages of its own is left alone (Skip).
 */
export async function importArchiveFile(file: string, owner: string, ownerJid: string, store: ArchiveStore, marks: ArchiveMarks, limits: Required<ArchiveLimits>, dryRun: boolean): Promise<ArchiveImport> {
  const size = (await stat(file)).size;
  if (size > ARCHIVE_IMPORT_FILE_MAX) throw new Skip(`${(size / 1048576).toFixed(0)} MiB; the import reads archive files of at most ${ARCHIVE_IMPORT_FILE_MAX / 1048576} MiB`);
  const data = await readFile(file);
  const digest = createHash('sha256').update(data).digest('base64');
  const mark = await marks.get();
  if (mark === digest) return { result: 'unchanged', messages: 0, skipped: [] };

  const skipped: string[] = [];
  // First pass: the records' sizes, so only the newest that fit Clove's limits are kept
  // (Prosody's mod_mam also gives up the oldest when an archive is full).
  const sizes: number[] = [];
  for (const m of messages(data, ownerJid, [])) sizes.push(recordSize(m.with, m.payload));
  const total = sizes.length;
  const drop = oldestToDrop(sizes, limits);
  if (drop) skipped.push(`the ${drop} oldest of ${total} messages: Clove's archive limits are ${limits.maxItems} messages and ${limits.maxBytes} bytes per user`);

  const held = (await store.metadata(owner)).count;
  let done = 0;
  if (mark === `partial ${digest}`) done = held; // an earlier run stopped after `held` appends
  else if (held > 0) throw new Skip(`Clove already has ${held} archived messages for this account`);
  if (dryRun) return { result: 'imported', messages: total - drop - done, skipped: skipped.concat(itemSkips(data, ownerJid)) };

  if (done < total - drop) await marks.set(`partial ${digest}`);
  let i = 0;
  let batch: Array<Promise<string>> = [];
  let appended = 0;
  try {
    for (const m of messages(data, ownerJid, skipped)) {
      if (i++ < drop + done) continue;
      batch.push(store.append(owner, m));
      if (batch.length >= BATCH) {
        appended += (await Promise.all(batch)).length;
        batch = [];
      }
    }
    appended += (await Promise.all(batch)).length;
  } catch (err) {
    // Appends before the failure are durable and in order; a later run resumes after them.
    await Promise.allSettled(batch);
    if (err instanceof ArchiveQuotaError) throw new Skip(`Clove's archive ${err.limit} limit (${err.max}) was reached after ${done + appended} of ${total - drop} messages; raise it and run the import again to add the rest`);
    throw err;
  }
  await marks.set(digest);
  return { result: 'imported', messages: appended, skipped };
}

/** How many of the oldest records must go so that the rest fit the item and byte limits. */
function oldestToDrop(sizes: readonly number[], limits: Required<ArchiveLimits>): number {
  let bytes = 0;
  let keep = 0;
  for (let i = sizes.length - 1; i >= 0 && keep < limits.maxItems; i--) {
    bytes += sizes[i] as number;
    if (bytes > limits.maxBytes) break;
    keep++;
  }
  return sizes.length - keep;
}

/** The per-item skip reasons of a file (for a dry run, which appends nothing). */
function itemSkips(data: Buffer, owner: string): string[] {
  const out: string[] = [];
  for (const _ of messages(data, owner, out));
  return out;
}

/** Marks for one user kept in the import's bookkeeping store under the 'archive' kind. */
export function archiveMarks<K extends string>(store: KeyValStore<Partial<Record<K, string>>>, user: string, kind: K, dryRun: boolean): ArchiveMarks {
  return {
    get: async () => (await store.get(user))?.[kind],
    set: async (m) => {
      if (dryRun) return;
      await store.set(user, { ...((await store.get(user)) ?? {}), [kind]: m } as Partial<Record<K, string>>);
    },
  };
}
