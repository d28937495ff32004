// Coalescing: queued writes to one file collapse into the newest value.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';

const renames = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    rename: async (a: string, b: string) => {
      renames.count++;
      return fs.rename(a, b);
    },
  };
});

const { createFileBackend } = await import('../../../src/storage/file.js');

let dir = '';
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('writes far fewer times than set() is called, and every caller sees its value durable', async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clove-coalesce-'));
  const kv = createFileBackend(dir).keyval<number>('localhost', 'kv');
  const order: number[] = [];
  await Promise.all(Array.from({ length: 100 }, (_, i) => kv.set('u', i).then(() => order.push(i))));
  expect(order).toHaveLength(100);
  expect(renames.count).toBeGreaterThanOrEqual(1);
  expect(renames.count).toBeLessThanOrEqual(3);
  const fresh = createFileBackend(dir).keyval<number>('localhost', 'kv');
  expect(await fresh.get('u')).toBe(99);
});
