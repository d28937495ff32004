// STORE_SHAPES lists every store src/ opens, with the shape it is opened as: migrate-storage
// copies exactly those, so a store missing there would be left behind.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, it } from 'vitest';
import { STORE_SHAPES } from '../../../src/storage/shapes.js';

const SRC = path.resolve(import.meta.dirname, '../../../src');

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

it('lists every store src/ opens, with its shape', async () => {
  const found = new Map<string, Set<string>>();
  const add = (name: string, shape: string): void => {
    if (!found.has(name)) found.set(name, new Set());
    found.get(name)!.add(shape);
  };
  for (const file of await sources(SRC)) {
    if (file.includes(`${path.sep}storage${path.sep}`)) continue;
    const text = await readFile(file, 'utf8');
    // ctx.store<T>('name', 'shape') and backend.keyval<T>(host, 'name')
    for (const m of text.matchAll(/store(?:<[^()]*>)?\('([a-z0-9_-]+)', '(keyval|map|archive)'/g)) add(m[1]!, m[2]!);
    for (const m of text.matchAll(/\.(keyval|map|archive)(?:<[^()]*>)?\([^,()]+, '([a-z0-9_-]+)'/g)) add(m[2]!, m[1]!);
  }
  expect(found.size).toBeGreaterThan(10);
  const wrong = [...found].filter(([name, shapes]) => shapes.size !== 1 || STORE_SHAPES[name] !== [...shapes][0]).map(([n, s]) => `${n}: ${[...s].join('/')}`);
  expect(wrong).toEqual([]);
});
