// The compiled code carries no comments (tsconfig.json `removeComments`): V8 keeps the source of
// every loaded script in its heap, and a comment with one character outside Latin-1 (—, →, …)
// makes a file's whole source a two-byte string (docs/limits.md, "Memory at start and per
// session"). `npm test` builds dist/ first (the pretest step), so this reads what runs.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIST = resolve(__dirname, '../../../dist');

function scripts(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return scripts(p);
    return name.endsWith('.js') ? [p] : [];
  });
}

describe('dist/', () => {
  it('has no comment lines: only the source-map reference starts with //', () => {
    const files = scripts(DIST);
    expect(files.length).toBeGreaterThan(100);
    const commented = files.filter((f) => readFileSync(f, 'utf8').split('\n').some((l) => /^\s*(\/\/(?!# sourceMappingURL=)|\/\*)/.test(l)));
    expect(commented).toEqual([]);
  });

  it('is Latin-1 text in all but a few files (their string literals)', () => {
    const wide = scripts(DIST).filter((f) => /[^\u0000-\u00ff]/.test(readFileSync(f, 'utf8')));
    // 21 of ~300 at this commit, each for an ellipsis, arrow or dash inside a message; with
    // comments, 110 of the 201 files a default start loads were.
    expect(wide.length).toBeLessThan(40);
  });
});
