// The server's own secret: 32 random bytes made on first start and kept in data_path (mode
// 0600), from which per-purpose keys are derived (derivedKey). It must outlive restarts: the fake
// SCRAM salts of unknown users are derived from it, and a salt that changed at every restart
// (while real users' salts do not) would tell a stranger which accounts exist.
//
// Written like every other file (temp file, fsync, then link into place): link() never
// overwrites, so two processes starting at once agree on whichever secret landed first.

import { createHmac, randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';

export const SECRET_FILE = 'server-secret';
const SECRET_BYTES = 32;

/** Read the secret from `dataPath`, creating it (0600) when there is none. */
export async function loadServerSecret(dataPath: string): Promise<Buffer> {
  const file = path.join(dataPath, SECRET_FILE);
  const existing = await readSecret(file);
  if (existing) return existing;
  await mkdir(dataPath, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(`${randomBytes(SECRET_BYTES).toString('hex')}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  await syncDir(dataPath);
  const made = await readSecret(file);
  if (!made) throw new Error(`${file} is not a valid server secret`);
  return made;
}

async function readSecret(file: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${file} is not a valid server secret (expected ${SECRET_BYTES * 2} hex digits)`);
  return Buffer.from(hex, 'hex');
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Some filesystems cannot fsync a directory; the link is then as durable as they allow.
  }
}

/** A key for one purpose, so one secret never serves two uses directly. */
export function derivedKey(secret: Buffer, purpose: string): Buffer {
  return createHmac('sha256', secret).update(`clove ${purpose}`).digest();
}
