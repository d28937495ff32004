// `clove adduser`, `passwd`, `deluser`: account management against the configured storage.
import type { Config } from '../config/config.js';
import { openStorage } from '../main.js';
import { Accounts, AccountError } from '../storage/accounts.js';
import { tryParseJid } from '../jid/jid.js';
import { ServerError } from '../core/errors.js';
import { readPassword, stdinLines } from './password.js';
import type { StorageBackend } from '../storage/store.js';

/** Concurrent account creations in --batch (hashing runs on worker threads and libuv's pool). */
const BATCH_PARALLEL = 32;

async function openStore(config: Config): Promise<StorageBackend> {
  if (config.get<string>('storage') === 'memory') throw new ServerError('usage', `${config.file}: storage = "memory" keeps no accounts between runs`);
  return openStorage(config);
}

function splitJid(config: Config, text: string): { user: string; host: string } {
  const jid = tryParseJid(text);
  if (!jid || !jid.local || jid.resource) throw new ServerError('usage', `'${text}' is not a valid user@host address`);
  if (config.components().some((c) => c.name === jid.domain)) throw new ServerError('usage', `${jid.domain} is a Component in ${config.file}: components have no accounts`);
  if (!config.virtualHosts().includes(jid.domain)) throw new ServerError('usage', `${jid.domain} is not a VirtualHost in ${config.file}`);
  return { user: jid.local, host: jid.domain };
}

function accountsFor(config: Config, storage: StorageBackend, host: string): Accounts {
  return new Accounts(storage.keyval(host, 'accounts'), { bcryptCost: config.get<number>('clove_bcrypt_cost', host), storeBcrypt: config.get<boolean>('clove_store_bcrypt', host) });
}

/** adduser JID | adduser --batch */
export async function addUser(config: Config, args: string[]): Promise<void> {
  const storage = await openStore(config);
  try {
    if (args.includes('--batch')) return await batch(config, storage);
    const target = args.find((a) => !a.startsWith('-'));
    if (!target) throw new ServerError('usage', 'usage: clove adduser JID  (or: clove adduser --batch < "JID PASSWORD" lines)');
    const { user, host } = splitJid(config, target);
    const accounts = accountsFor(config, storage, host);
    if (await accounts.exists(user)) throw new ServerError('account', `${user}@${host} already exists`);
    await accounts.create(user, await readPassword(`Password for ${user}@${host}: `, args.includes('--password-stdin')));
    process.stderr.write(`created ${user}@${host}\n`);
  } finally {
    await storage.close();
  }
}

async function batch(config: Config, storage: StorageBackend): Promise<void> {
  const perHost = new Map<string, Accounts>();
  const inflight = new Set<Promise<void>>();
  let created = 0;
  const failures: string[] = [];
  let lineNo = 0;
  const started = Date.now();
  for await (const raw of stdinLines()) {
    lineNo++;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.indexOf(' ');
    if (sp < 0) {
      failures.push(`line ${lineNo}: expected "JID PASSWORD"`);
      continue;
    }
    let target;
    try {
      target = splitJid(config, line.slice(0, sp));
    } catch (err) {
      failures.push(`line ${lineNo}: ${(err as Error).message}`);
      continue;
    }
    const { user, host } = target;
    let accounts = perHost.get(host);
    if (!accounts) perHost.set(host, (accounts = accountsFor(config, storage, host)));
    const p: Promise<void> = accounts.create(user, line.slice(sp + 1)).then(
      () => { created++; },
      (err: unknown) => { failures.push(`line ${lineNo}: ${user}@${host}: ${err instanceof AccountError ? err.message : String(err)}`); },
    ).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= BATCH_PARALLEL) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  for (const f of failures) process.stderr.write(`clove adduser: ${f}\n`);
  process.stderr.write(`created ${created} accounts in ${((Date.now() - started) / 1000).toFixed(1)} s${failures.length ? `, ${failures.length} failed` : ''}\n`);
  if (failures.length) throw new ServerError('account', `${failures.length} of ${created + failures.length} accounts were not created`);
}

/** passwd JID */
export async function passwd(config: Config, args: string[]): Promise<void> {
  const target = args.find((a) => !a.startsWith('-'));
  if (!target) throw new ServerError('usage', 'usage: clove passwd JID');
  const { user, host } = splitJid(config, target);
  const storage = await openStore(config);
  try {
    const accounts = accountsFor(config, storage, host);
    if (!(await accounts.exists(user))) throw new ServerError('account', `${user}@${host} does not exist`);
    await accounts.setPassword(user, await readPassword(`New password for ${user}@${host}: `, args.includes('--password-stdin')));
    process.stderr.write(`changed the password of ${user}@${host}\n`);
  } finally {
    await storage.close();
  }
}

/** deluser JID */
export async function delUser(config: Config, args: string[]): Promise<void> {
  const target = args.find((a) => !a.startsWith('-'));
  if (!target) throw new ServerError('usage', 'usage: clove deluser JID');
  const { user, host } = splitJid(config, target);
  const storage = await openStore(config);
  try {
    const accounts = accountsFor(config, storage, host);
    if (!(await accounts.exists(user))) throw new ServerError('account', `${user}@${host} does not exist`);
    await accounts.remove(user);
    process.stderr.write(`deleted ${user}@${host}\n`);
  } finally {
    await storage.close();
  }
}

/** register USER HOST PASSWORD (prosodyctl parity, for scripts). */
export async function register(config: Config, args: string[]): Promise<void> {
  const [user, host, password] = args;
  if (!user || !host || password === undefined || args.length !== 3) throw new ServerError('usage', 'usage: clove register USER HOST PASSWORD');
  const target = splitJid(config, `${user}@${host}`);
  const storage = await openStore(config);
  try {
    const accounts = accountsFor(config, storage, target.host);
    if (await accounts.exists(target.user)) throw new ServerError('account', `${target.user}@${target.host} already exists`);
    await accounts.create(target.user, password);
    process.stderr.write(`created ${target.user}@${target.host}\n`);
  } finally {
    await storage.close();
  }
}

/** unregister USER HOST (prosodyctl parity, for scripts). */
export async function unregister(config: Config, args: string[]): Promise<void> {
  const [user, host] = args;
  if (!user || !host || args.length !== 2) throw new ServerError('usage', 'usage: clove unregister USER HOST');
  await delUser(config, [`${user}@${host}`]);
}
