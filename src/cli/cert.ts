// `clove cert generate HOST [--days N]`: a self-signed certificate where the server will look for it.
import { chmod, stat } from 'node:fs/promises';
import type { Config } from '../config/config.js';
import type { SslOptions } from '../config/schema.js';
import { ServerError } from '../core/errors.js';
import { certPaths, fingerprint, generateSelfSigned, writeAtomic } from '../net/certs.js';

const USAGE = 'usage: clove cert generate HOST [--days N]';
/** As the I2P tutorial's `openssl req -days 3650`. */
const DEFAULT_DAYS = 3650;
const MAX_DAYS = 36500;
/** Owner and group (the server's) may read the key; only the certificate is for everyone. */
const KEY_MODE = 0o640;
const CERT_MODE = 0o644;

export async function certGenerate(config: Config, args: string[]): Promise<void> {
  const { sub, host, days } = parseArgs(args);
  if (sub !== 'generate' || !host) throw new ServerError('usage', USAGE);
  const paths = certPaths(host, config.hosts.some((h) => h.name === host) ? config.get<SslOptions | undefined>('ssl', host) : undefined, config.get<string>('certificates'));
  const { key, cert } = await generateSelfSigned(host, days);
  await writeFileWithMode(paths.key, key, KEY_MODE);
  await writeFileWithMode(paths.certificate, cert, CERT_MODE);
  process.stdout.write(`${paths.certificate}\n${paths.key}\nSHA-256 fingerprint ${fingerprint(cert)}\n`);
}

function parseArgs(args: string[]): { sub?: string; host?: string; days: number } {
  const positional: string[] = [];
  let days = DEFAULT_DAYS;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--days' || a.startsWith('--days=')) {
      const text = a === '--days' ? args[++i] : a.slice('--days='.length);
      days = parseDays(text);
    } else if (a.startsWith('-')) {
      throw new ServerError('usage', `${USAGE} (unknown option '${a}')`);
    } else {
      positional.push(a);
    }
  }
  if (positional.length > 2) throw new ServerError('usage', USAGE);
  const [sub, host] = positional;
  return { ...(sub !== undefined ? { sub } : {}), ...(host !== undefined ? { host } : {}), days };
}

function parseDays(text: string | undefined): number {
  const n = text !== undefined && /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_DAYS) {
    const got = text === undefined ? 'nothing' : JSON.stringify(text);
    throw new ServerError('usage', `${USAGE}: --days wants a whole number of days from 1 to ${MAX_DAYS}, got ${got}`);
  }
  return n;
}

/**
 * Write atomically, then set the mode exactly: the process umask may have taken bits away
 * (never added any, so the file is not more open than `mode` at any instant).
 */
async function writeFileWithMode(path: string, data: string, mode: number): Promise<void> {
  await writeAtomic(path, data, mode);
  await chmod(path, mode);
  const actual = (await stat(path)).mode & 0o777;
  if (actual !== mode) throw new ServerError('certificate', `${path}: mode is ${actual.toString(8)} after writing, expected ${mode.toString(8)}`);
}
