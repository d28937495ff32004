// Shared files on disk, under <data_path>/http_file_share/<host>/: `<id>` holds the bytes and
// `<id>.json` what a download needs (name, type, size, owner, time). Names on disk are only ids
// the service generated, never anything a user sent, so no request can reach another path.
// An upload streams into tmp/ (never whole in memory), is fsynced and renamed into place, then
// its description is written the same way: a crash leaves either nothing or a complete file
// (a body without description is removed at the next start).
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { open, opendir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isCode, makeDirDurable, syncDir } from '../../storage/fs-sync.js';
import { isId, newId } from './names.js';

/** A stored file's description. */
export interface StoredFile {
  readonly id: string;
  readonly filename: string;
  readonly type: string;
  readonly size: number;
  /** Bare JID of the uploader. */
  readonly owner: string;
  /** Milliseconds since the epoch the upload completed. */
  readonly created: number;
}

/** The files of one upload service. */
export class FileStore {
  private readonly tmp: string;

  constructor(readonly dir: string) {
    this.tmp = join(dir, 'tmp');
  }

  /** Create the folders, drop what a crash left half-done, and call `each` for every stored file. */
  async open(each: (file: StoredFile) => void): Promise<void> {
    await makeDirDurable(this.tmp);
    await rm(this.tmp, { recursive: true, force: true });
    await makeDirDurable(this.tmp);
    const described = new Set<string>();
    const bodies: string[] = [];
    for await (const entry of await opendir(this.dir)) {
      if (!entry.isFile()) continue;
      if (entry.name.endsWith('.json') && isId(entry.name.slice(0, -5))) {
        const file = await this.read(entry.name.slice(0, -5));
        if (file) {
          described.add(file.id);
          each(file);
        }
      } else if (isId(entry.name)) {
        bodies.push(entry.name);
      }
    }
    for (const id of bodies) if (!described.has(id)) await unlink(join(this.dir, id)).catch(() => undefined);
  }

  /**
   * Stream `body` to disk as `file`: exactly `file.size` bytes or a rejection (nothing kept).
   * Resolves once the bytes and the description (stamped `now()` when complete) are durable.
   */
  async receive(file: Omit<StoredFile, 'created'>, body: Readable, now: () => number): Promise<void> {
    const part = join(this.tmp, `${file.id}.${newId()}`);
    try {
      // 256 KiB buffered per upload: fewer pauses of the socket than the default 16 KiB, still bounded.
      const out = createWriteStream(part, { flags: 'wx', mode: 0o600, highWaterMark: 256 * 1024 });
      await pipeline(body, out);
      if (out.bytesWritten !== file.size) throw new Error(`got ${out.bytesWritten} of ${file.size} bytes`);
      // Linux flushes the file's pages whichever descriptor asks.
      const fh = await open(part, 'r');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(part, join(this.dir, file.id));
      await this.describe({ ...file, created: now() });
      await syncDir(this.dir);
    } catch (err) {
      await unlink(part).catch(() => undefined);
      throw err;
    }
  }

  /** The description of `id`, undefined when there is none (or it is unreadable). */
  async read(id: string): Promise<StoredFile | undefined> {
    if (!isId(id)) return undefined;
    try {
      const f = JSON.parse(await readFile(join(this.dir, `${id}.json`), 'utf8')) as StoredFile;
      return f.id === id && typeof f.size === 'number' && typeof f.created === 'number' ? f : undefined;
    } catch (err) {
      if (isCode(err, 'ENOENT')) return undefined;
      if (err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  /** Whether `id` is taken (stored, or described). */
  async exists(id: string): Promise<boolean> {
    return (await this.read(id)) !== undefined;
  }

  /** A stream of the bytes of `id` (check read() first). */
  body(id: string): ReadStream {
    return createReadStream(join(this.dir, id));
  }

  /** Remove a file: its description first, so it stops being served, then its bytes. */
  async remove(id: string): Promise<void> {
    await unlink(join(this.dir, `${id}.json`)).catch((e: unknown) => { if (!isCode(e, 'ENOENT')) throw e; });
    await unlink(join(this.dir, id)).catch((e: unknown) => { if (!isCode(e, 'ENOENT')) throw e; });
  }

  /** Every stored file's description, one at a time (the sweep: memory stays flat however many there are). */
  async *all(): AsyncGenerator<StoredFile> {
    for await (const entry of await opendir(this.dir)) {
      if (!entry.isFile() || !entry.name.endsWith('.json')) continue;
      const file = await this.read(entry.name.slice(0, -5));
      if (file) yield file;
    }
  }

  private async describe(file: StoredFile): Promise<void> {
    const part = join(this.tmp, `${file.id}.json.${newId()}`);
    await writeFile(part, JSON.stringify(file), { mode: 0o600, flush: true });
    await rename(part, join(this.dir, `${file.id}.json`));
  }
}
