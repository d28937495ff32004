// Durable file-system steps shared by the file backend's stores: fsync of a directory, and
// creating a directory chain whose new entries survive a crash.
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';

/** True when `e` is a Node system error with one of `codes`. */
export function isCode(e: unknown, ...codes: string[]): boolean {
  return typeof e === 'object' && e !== null && codes.includes((e as NodeJS.ErrnoException).code ?? '');
}

/** fsync a directory, so entries created, renamed or removed in it are durable. */
export async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    // Some filesystems cannot fsync a directory; the rename is then as durable as they allow.
    if (!isCode(e, 'EINVAL', 'EPERM', 'EISDIR', 'EBADF', 'ENOTSUP')) throw e;
  } finally {
    await fh?.close();
  }
}

/** mkdir -p, fsyncing the parent of every level it created. */
export async function makeDirDurable(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  for (let d = dir; ; d = path.dirname(d)) {
    await syncDir(path.dirname(d));
    if (d === first || d === path.dirname(d)) break;
  }
}
