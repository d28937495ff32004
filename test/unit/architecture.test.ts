// docs/architecture.md is the architecture's home; its "Layers" table says which top-level folder
// of src/ may import which. This test reads that table and every import in src/, so the document
// and the code cannot drift apart: a new import across layers needs the table changed first.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it, expect } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const SRC = join(ROOT, 'src');

/** The layer a file of src/ belongs to: its top-level folder, or the file's own name at the top. */
function layerOf(file: string): string {
  const rel = relative(SRC, file).split('/');
  return rel.length === 1 ? (rel[0] as string).replace(/\.ts$/, '') : (rel[0] as string);
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative import specifiers of a file (import, import type, export … from, dynamic import). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)'(\.{1,2}\/[^']+)'/gm)].map((m) => m[1] as string);
  return found.map((spec) => join(dirname(file), spec));
}

/** The Layers table: `| layer | may import |` rows; layer names in backquotes. */
function layerTable(): Map<string, Set<string>> {
  const doc = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
  const section = doc.split(/^## /m).find((s) => s.startsWith('Layers'));
  if (!section) throw new Error('docs/architecture.md has no "## Layers" section');
  const table = new Map<string, Set<string>>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4 || !/^`[^`]+`$/.test(cells[1] as string)) continue;
    const layer = (cells[1] as string).slice(1, -1);
    const allowed = [...(cells[2] as string).matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
    table.set(layer, new Set(allowed));
  }
  return table;
}

describe('layers (docs/architecture.md)', () => {
  const table = layerTable();
  const files = sources(SRC);

  it('names every folder and top-level file of src/ in the Layers table', () => {
    const layers = new Set(files.map(layerOf));
    expect([...layers].filter((l) => !table.has(l)).sort()).toEqual([]);
    expect([...table.keys()].filter((l) => !layers.has(l)).sort()).toEqual([]);
  });

  it('has no import the table does not allow', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      for (const target of importsOf(file)) {
        if (!target.startsWith(SRC + '/')) continue;
        const to = layerOf(target.replace(/\.js$/, '.ts'));
        if (to !== from && !table.get(from)?.has(to)) wrong.push(`${relative(ROOT, file)} imports ${to}/ (${relative(ROOT, target)})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('reads imports the way the code writes them', () => {
    // The check above must see real imports, or it passes vacuously.
    const edges = files.flatMap((f) => importsOf(f).filter((t) => t.startsWith(SRC + '/') && layerOf(t.replace(/\.js$/, '.ts')) !== layerOf(f)));
    expect(edges.length).toBeGreaterThan(200);
  });
});
