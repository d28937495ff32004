// `clove import-prosody DATA_DIR [--dry-run]`: move a Prosody server's internal storage
// (mod_storage_internal: <data>/<enc(host)>/<store>/<enc(user)>.dat|.list, Lua-serialised) into
// Clove's stores, for every VirtualHost of Clove's config found under DATA_DIR.
//
// What maps (Prosody 0.12 formats, read from /usr/lib/prosody):
// - accounts (mod_auth_internal_hashed): salt (string, used as-is), iteration_count, hex
//   stored_key/server_key = SCRAM-SHA-1 → kept as Clove's SHA-1 key, so the old password works
//   with SCRAM-SHA-1 and PLAIN. Clove cannot have SHA-256 keys or bcrypt for such an account
//   until its password is set again or it logs in with PLAIN; until then the host does not offer
//   SCRAM-SHA-256 (see Accounts.allHaveSha256). (mod_auth_internal_plain) password → hashed on import.
// - roster: items keyed by JID {subscription, ask, name, groups = {[g]=true}}; [false] holds
//   {version, pending = {[jid] = the subscribe presence as a stanza table}} → Clove's pending-in
//   requests (the roster version is not kept: Clove starts a new one, clients refetch).
// - vcard: a preserialised stanza {name, attr, [1..n] = child tables or text} → ElementJSON.
// - private: a map "name:namespace" → stanza table → Clove's "name namespace" map.
// - offline (.list archive): item({name="message", attr={…, stamp=…}, when, with, key, …}).
// - archive (mod_mam's .list archive, same item shape) → the 'archive' store: ./archive.ts.
//
// With --from-sql PROSODY_CONFIG, Prosody's SQL storage (PostgreSQL, or SQLite, Prosody's default driver)
// is first written out in that layout (./sql-export.ts) and imported from there.
//
// Existing Clove data is never overwritten: identical data counts as "unchanged", different data
// is skipped with a reason. What was imported is remembered (a digest per user and kind in the
// 'import_prosody' store), so a second run changes nothing even after users changed their data
// in Clove or received their offline messages. --dry-run writes nothing.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../config/config.js';
import { ServerError } from '../../core/errors.js';
import { openStorage } from '../../main.js';
import { Accounts, type AccountRecord } from '../../storage/accounts.js';
import type { ArchiveLimits, StorageBackend } from '../../storage/store.js';
import type { ScramCredential } from '../../sasl/credentials.js';
import { prepLocal } from '../../jid/jid.js';
import type { ElementJSON } from '../../xml/json.js';
import type { Roster, RosterItem } from '../../modules/roster/roster-store.js';
import type { OfflineMessage } from '../../modules/offline.js';
import type { Subscription } from '../../modules/presence/subscription.js';
import { DataTable, parseDat, parseList, type DataValue } from '../../config/lua/data-file.js';
import { bareJid, prosodyEncode, Skip, str, table, toElement } from './data.js';
import { exportProsodySql } from './sql-export.js';
import { loadConfig } from '../../config/config.js';
import { openProsodyRows, prosodySqlSource, type ProsodyRows } from './sql-rows.js';
import type { SqlExport } from './sql-export.js';
import { ProsodyDatabaseError } from './sql-rows.js';
import { archiveMarks, importArchiveFile } from './archive.js';

const USAGE = 'usage: clove import-prosody DATA_DIR [--dry-run]   or   clove import-prosody --from-sql PROSODY_CONFIG [--dry-run]';
const KINDS = ['accounts', 'roster', 'vcard', 'private', 'offline', 'archive'] as const;
type Kind = (typeof KINDS)[number];

export { prosodyEncode } from './data.js';

function prosodyDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

interface HostReport {
  imported: Record<Kind, number>;
  unchanged: Record<Kind, number>;
  /** Archived messages imported (the archive kind counts users' archives). */
  messages: number;
  skipped: string[];
}

const zero = (): Record<Kind, number> => ({ accounts: 0, roster: 0, vcard: 0, private: 0, offline: 0, archive: 0 });

export async function importProsody(config: Config, args: string[]): Promise<number> {
  const from = args.indexOf('--from-sql');
  if (from >= 0) {
    const prosodyConfig = args[from + 1];
    if (prosodyConfig === undefined || prosodyConfig.startsWith('-')) throw new ServerError('usage', USAGE);
    return importProsodySql(config, prosodyConfig, args.filter((_, i) => i !== from && i !== from + 1));
  }
  const dryRun = args.includes('--dry-run');
  const unknown = args.filter((a) => a.startsWith('-') && a !== '--dry-run');
  const positional = args.filter((a) => !a.startsWith('-'));
  if (unknown.length) throw new ServerError('usage', `unknown option ${unknown[0]}; ${USAGE}`);
  if (positional.length !== 1) throw new ServerError('usage', USAGE);
  const dataDir = positional[0] as string;
  if (!(await isDir(dataDir))) throw new ServerError('storage', `${dataDir} is not a directory`);
  if (config.get<string>('storage') === 'memory') throw new ServerError('usage', `${config.file}: storage = "memory" keeps nothing between runs`);

  const present = new Set((await readdir(dataDir)).map((d) => prosodyDecode(d)).filter((d): d is string => !!d));
  const hosts = config.virtualHosts().filter((h) => present.has(h));
  const notConfigured = [...present].filter((h) => h.includes('.') || h === 'localhost').filter((h) => !config.virtualHosts().includes(h));
  if (hosts.length === 0) throw new ServerError('storage', `no VirtualHost of ${config.file} (${config.virtualHosts().join(', ')}) has data in ${dataDir}`);

  const storage = await openStorage(config);
  const out: string[] = [];
  try {
    for (const host of hosts) {
      const rep = await importHost(config, storage, join(dataDir, prosodyEncode(host)), host, dryRun);
      const list = (r: Record<Kind, number>): string => KINDS.map((k) => `${r[k]} ${k}`).join(', ');
      out.push(`${host}: ${dryRun ? 'would import' : 'imported'} ${list(rep.imported)} (${rep.messages} archived messages); unchanged (already in Clove or imported before) ${list(rep.unchanged)}; skipped ${rep.skipped.length}`);
      for (const s of rep.skipped) out.push(`  skipped ${s}`);
    }
    for (const h of notConfigured) out.push(`${h}: skipped (not a VirtualHost in ${config.file})`);
    if (dryRun) out.push('dry run: nothing was written');
  } finally {
    await storage.close();
  }
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

/**
 * Prosody's SQL storage (the `sql` option of PROSODY_CONFIG): its rows are written to a private
 * temporary directory in the internal storage's layout, imported from there like DATA_DIR, and
 * the directory is removed, also when the import is interrupted (it holds password hashes).
 */
async function importProsodySql(config: Config, prosodyConfig: string, rest: string[]): Promise<number> {
  const prosody = await loadConfig(prosodyConfig, { foreign: true });
  const source = prosodySqlSource(prosody);
  const dir = await mkdtemp(join(tmpdir(), 'clove-prosody-sql-'));
  // Interrupted while the copy is written, the export stops before its next write (a write still
  // in flight could make a directory again after it was removed) and the copy is removed below;
  // a second signal, or one while the copy is only read, removes it at once.
  const stop = new AbortController();
  let writing = true;
  let exitCode = 0;
  const interrupted = (signal: NodeJS.Signals): void => {
    exitCode = signal === 'SIGINT' ? 130 : 143;
    if (writing && !stop.signal.aborted) return stop.abort();
    rmSync(dir, { recursive: true, force: true });
    process.exit(exitCode);
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);
  try {
    let rows: ProsodyRows;
    try {
      rows = await openProsodyRows(source);
    } catch (e) {
      if (e instanceof ProsodyDatabaseError) throw new ServerError('storage', e.message);
      throw e;
    }
    let exported: SqlExport;
    try {
      exported = await exportProsodySql(rows, config.virtualHosts(), dir, (host) => archiveLimits(config, host).maxItems, stop.signal);
    } catch (e) {
      if (stop.signal.aborted) return exitCode; // the copy is removed below
      throw e;
    } finally {
      writing = false;
      await rows.close();
    }
    if (stop.signal.aborted) return exitCode; // stopped after the export's last write
    if (exported.hosts.length === 0) throw new ServerError('storage', `no VirtualHost of ${config.file} (${config.virtualHosts().join(', ')}) has data in the ${rows.label} (${prosodyConfig})`);
    process.stdout.write([`read Prosody's ${rows.label}`, ...exported.cut.map((c) => `  kept ${c}`), ''].join('\n'));
    return await importProsody(config, [dir, ...rest]);
  } finally {
    await rm(dir, { recursive: true, force: true });
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** The users with a file of this extension in <hostDir>/<store>, decoded and prepared. */
async function files(hostDir: string, store: string, ext: '.dat' | '.list', rep: HostReport): Promise<Array<{ user: string; file: string }>> {
  let names: string[];
  try {
    names = (await readdir(join(hostDir, store))).sort();
  } catch {
    return [];
  }
  const out: Array<{ user: string; file: string }> = [];
  for (const n of names) {
    if (!n.endsWith(ext)) continue;
    const file = join(hostDir, store, n);
    const raw = prosodyDecode(n.slice(0, -ext.length));
    let user: string | undefined;
    try {
      user = raw === undefined ? undefined : prepLocal(raw);
    } catch {
      user = undefined;
    }
    if (!user) {
      rep.skipped.push(`${store}/${n}: not a valid username`);
      continue;
    }
    out.push({ user, file });
  }
  return out;
}

async function importHost(config: Config, storage: StorageBackend, hostDir: string, host: string, dryRun: boolean): Promise<HostReport> {
  const rep: HostReport = { imported: zero(), unchanged: zero(), messages: 0, skipped: [] };
  const accountStore = storage.keyval<AccountRecord>(host, 'accounts');
  const accounts = new Accounts(accountStore, { bcryptCost: config.get<number>('clove_bcrypt_cost', host), storeBcrypt: config.get<boolean>('clove_store_bcrypt', host), readOnly: dryRun });
  const rel = (file: string): string => file.slice(hostDir.length + 1);
  // What this command imported before, per user and kind (a digest of the Prosody data), so a
  // second run is a no-op even after Clove changed or consumed the data (offline messages).
  const marks = storage.keyval<Partial<Record<Kind, string>>>(host, 'import_prosody');
  const digest = (v: unknown): string => createHash('sha256').update(canon(v)).digest('base64');
  const already = async (user: string, kind: Kind, d: string): Promise<boolean> => (await marks.get(user))?.[kind] === d;
  const mark = async (user: string, kind: Kind, d: string): Promise<void> => {
    if (dryRun) return;
    await marks.set(user, { ...((await marks.get(user)) ?? {}), [kind]: d });
  };

  /** Run one file's import; a parse or shape problem skips that file with a warning. */
  const each = async (kind: Kind, file: string, f: () => Promise<'imported' | 'unchanged'>): Promise<void> => {
    try {
      const r = await f();
      rep[r][kind]++;
    } catch (err) {
      const why = (err as Error).message;
      rep.skipped.push(`${rel(file)}: ${why}`);
      if (!(err instanceof Skip)) process.stderr.write(`warning: skipping ${file}: ${why}\n`);
    }
  };

  const known = new Set<string>();
  for (const { user, file } of await files(hostDir, 'accounts', '.dat', rep)) {
    await each('accounts', file, async () => {
      const t = table(parseDat(await readFile(file)), 'account');
      known.add(user);
      const existing = await accountStore.get(user);
      if (typeof t.get('password') === 'string') {
        const password = t.get('password') as string;
        const d = digest({ password });
        if (existing && (await already(user, 'accounts', d))) return 'unchanged';
        if (existing) {
          if (await accounts.verifyPlain(user, password)) return 'unchanged';
          throw new Skip('a Clove account with a different password exists');
        }
        if (!dryRun) await accounts.create(user, password);
        await mark(user, 'accounts', d);
        return 'imported';
      }
      const cred = scramSha1(t);
      if (existing && (await already(user, 'accounts', digest(cred)))) return 'unchanged';
      if (existing) {
        if (JSON.stringify(existing.scram.sha1) === JSON.stringify(cred)) return 'unchanged';
        throw new Skip('a Clove account with different credentials exists');
      }
      // Only SHA-1 keys exist for this password: Clove checks it against them (SCRAM-SHA-1, PLAIN),
      // and holds SCRAM-SHA-256 back on this host until the record is completed (src/storage/accounts.ts).
      if (!dryRun) await accounts.importSha1Only(user, cred);
      await mark(user, 'accounts', digest(cred));
      return 'imported';
    });
  }

  const needAccount = async (user: string): Promise<void> => {
    if (!known.has(user) && !(await accountStore.get(user))) throw new Skip('no such account');
  };
  /**
   * Set a keyval `value` (digest `d`) unless Clove holds one already: `held` says whether what
   * Clove holds counts, `same` whether it equals the import (then 'unchanged'; else skipped).
   */
  const putOnce = async <T>(user: string, kind: 'roster' | 'vcard', value: T, d: string, held: (existing: T) => boolean, same: (existing: T) => boolean): Promise<'imported' | 'unchanged'> => {
    if (await already(user, kind, d)) return 'unchanged';
    const store = storage.keyval<T>(host, kind);
    const existing = await store.get(user);
    if (existing !== undefined && held(existing)) {
      if (same(existing)) return 'unchanged';
      throw new Skip(`Clove already has a different ${kind === 'vcard' ? 'vCard' : kind} for this account`);
    }
    if (!dryRun) await store.set(user, value);
    await mark(user, kind, d);
    return 'imported';
  };

  for (const { user, file } of await files(hostDir, 'roster', '.dat', rep)) {
    await each('roster', file, async () => {
      const roster = toRoster(table(parseDat(await readFile(file)), 'roster'), `${user}@${host}`);
      await needAccount(user);
      return putOnce<Roster>(user, 'roster', roster, digest({ items: roster.items, pending: roster.pending }),
        (e) => Object.keys(e.items ?? {}).length > 0 || Object.keys(e.pending ?? {}).length > 0,
        (e) => same(e.items, roster.items) && same(e.pending, roster.pending));
    });
  }

  for (const { user, file } of await files(hostDir, 'vcard', '.dat', rep)) {
    await each('vcard', file, async () => {
      const vcard = toElement(parseDat(await readFile(file)));
      await needAccount(user);
      return putOnce<ElementJSON>(user, 'vcard', vcard, digest(vcard), () => true, (e) => same(e, vcard));
    });
  }

  for (const { user, file } of await files(hostDir, 'private', '.dat', rep)) {
    await each('private', file, async () => {
      const t = table(parseDat(await readFile(file)), 'private storage');
      const all: Record<string, ElementJSON> = {};
      for (const [k, v] of t.hash) {
        if (typeof k !== 'string') throw new Error('private storage keys must be "name:namespace" strings');
        const el = toElement(v);
        all[`${el.n} ${el.a?.xmlns ?? k.slice(k.indexOf(':') + 1)}`] = el;
      }
      await needAccount(user);
      const d = digest(all);
      if (await already(user, 'private', d)) return 'unchanged';
      const store = storage.map<ElementJSON>(host, 'private');
      const existing = await store.getAll(user);
      if (Object.keys(existing).length) {
        if (same(existing, all)) return 'unchanged';
        throw new Skip('Clove already has different private storage for this account');
      }
      if (!dryRun && Object.keys(all).length) await store.setAll(user, all);
      await mark(user, 'private', d);
      return 'imported';
    });
  }

  for (const { user, file } of await files(hostDir, 'offline', '.list', rep)) {
    await each('offline', file, async () => {
      const messages = parseList(await readFile(file)).map(toOffline);
      await needAccount(user);
      const d = digest(messages);
      if (await already(user, 'offline', d)) return 'unchanged';
      const store = storage.keyval<OfflineMessage[]>(host, 'offline');
      const existing = await store.get(user);
      if (existing && existing.length) {
        if (same(existing, messages)) return 'unchanged';
        throw new Skip('Clove already holds other offline messages for this account');
      }
      if (!dryRun && messages.length) await store.set(user, messages);
      await mark(user, 'offline', d);
      return 'imported';
    });
  }
  // After the offline messages: the history of each account (mod_mam), oldest first.
  const limits = archiveLimits(config, host);
  const archive = storage.archive(host, 'archive', limits);
  for (const { user, file } of await files(hostDir, 'archive', '.list', rep)) {
    await each('archive', file, async () => {
      await needAccount(user);
      const r = await importArchiveFile(file, user, `${user}@${host}`, archive, archiveMarks(marks, user, 'archive', dryRun), limits, dryRun);
      rep.messages += r.messages;
      for (const s of r.skipped) rep.skipped.push(`${rel(file)}: ${s}`);
      return r.result;
    });
  }
  await accounts.ready; // its bookkeeping write (if any) lands before the storage closes
  return rep;
}

/** The per-user archive limits the mam module applies on this host (its options, src/modules/mam/mam.ts). */
function archiveLimits(config: Config, host: string): Required<ArchiveLimits> {
  return { maxItems: config.get<number>('storage_archive_item_limit', host), maxBytes: config.get<number>('archive_max_bytes', host) };
}

/** Deep equality of JSON data (key order ignored). */
function same(a: unknown, b: unknown): boolean {
  return canon(a) === canon(b);
}
function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}

/** internal_hashed → Clove's SCRAM-SHA-1 credential (base64 salt and keys). */
function scramSha1(t: DataTable): ScramCredential {
  const salt = str(t, 'salt');
  const stored = str(t, 'stored_key');
  const server = str(t, 'server_key');
  const iterations = t.get('iteration_count');
  if (salt === undefined || stored === undefined || server === undefined || typeof iterations !== 'number') {
    throw new Error('neither a password nor SCRAM keys (salt, stored_key, server_key, iteration_count)');
  }
  if (!/^[0-9a-fA-F]{40}$/.test(stored) || !/^[0-9a-fA-F]{40}$/.test(server)) throw new Error('stored_key/server_key are not 40 hex digits (SCRAM-SHA-1)');
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error('bad iteration_count');
  return {
    salt: Buffer.from(salt, 'utf8').toString('base64'),
    iterations,
    storedKey: Buffer.from(stored, 'hex').toString('base64'),
    serverKey: Buffer.from(server, 'hex').toString('base64'),
  };
}

const SUBSCRIPTIONS = new Set(['none', 'to', 'from', 'both']);

function toRoster(t: DataTable, owner: string): Roster {
  const items: Record<string, RosterItem> = {};
  const pending: Record<string, ElementJSON> = {};
  for (const [key, value] of t.hash) {
    if (key === false) {
      const meta = table(value, 'roster metadata');
      const p = meta.get('pending');
      // Prosody 0.12 keeps the request stanza itself; older versions kept `true`.
      if (p instanceof DataTable) {
        for (const [k, req] of p.hash) {
          const jid = bareJid(k);
          pending[jid] = req instanceof DataTable ? toElement(req) : { n: 'presence', a: { from: jid, to: owner, type: 'subscribe' } };
        }
      }
      continue;
    }
    const jid = bareJid(key);
    const it = table(value, `roster item ${jid}`);
    const sub = str(it, 'subscription') ?? 'none';
    if (!SUBSCRIPTIONS.has(sub)) throw new Error(`roster item ${jid}: unknown subscription '${sub}'`);
    const item: RosterItem = { subscription: sub as Subscription, groups: [] };
    if (str(it, 'ask') === 'subscribe') item.ask = true;
    if (it.get('approved') === true || it.get('approved') === 'true') item.approved = true;
    const name = str(it, 'name');
    if (name) item.name = name;
    const groups = it.get('groups');
    if (groups instanceof DataTable) for (const [g, on] of groups.hash) if (typeof g === 'string' && on) item.groups.push(g);
    item.groups.sort();
    items[jid] = item;
  }
  return { version: Date.now(), items, pending };
}

/** An offline archive item → Clove's stored message (stamp in XEP-0082 UTC). */
function toOffline(v: DataValue): OfflineMessage {
  const el = toElement(v);
  const t = v as DataTable;
  let stamp = el.a?.stamp;
  const when = t.get('when');
  if (!stamp && typeof when === 'number') stamp = new Date(when * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (!stamp) throw new Error('offline message without a time');
  if (el.a) {
    delete el.a.stamp;
    delete el.a.stamp_legacy;
    if (!Object.keys(el.a).length) delete el.a;
  }
  return { stamp, stanza: el };
}
