// Every storage backend, for contract tests run against each (describe.each). File and SQLite
// backends get a fresh temp directory, removed after the file's tests; PostgreSQL backends a
// fresh schema on the run's test cluster (test/helpers/postgres.ts).

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { createFileBackend } from '../../../src/storage/file.js';
import { createMemoryBackend } from '../../../src/storage/memory.js';
import { openSqlBackend } from '../../../src/storage/sql/backend.js';
import type { StorageBackend } from '../../../src/storage/store.js';
import { freshSchema } from '../../helpers/postgres.js';

/** [name, make] for each backend; registers an afterAll that removes the temp directories. */
export function eachBackend(prefix: string): Array<[string, () => Promise<StorageBackend>]> {
  const tmpDirs: string[] = [];
  afterAll(async () => {
    await Promise.all(tmpDirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  const tmpDir = async (): Promise<string> => {
    const d = await mkdtemp(path.join(os.tmpdir(), prefix));
    tmpDirs.push(d);
    return d;
  };
  return [
    ['memory', async () => createMemoryBackend()],
    ['file', async () => createFileBackend(await tmpDir())],
    ['postgresql', async () => openSqlBackend(await freshSchema())],
    ['sqlite', async () => openSqlBackend({ driver: 'SQLite3', database: path.join(await tmpDir(), 'clove.sqlite') })],
  ];
}
