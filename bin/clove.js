#!/usr/bin/env node
// The `clove` command. The TypeScript sources are compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

// Before any code is loaded: V8's young generation does not grow (src/cli/heap.ts says why;
// `clove start` lets it grow up to gc_young_generation_max).
setFlagsFromString('--semi-space-growth-factor=1');

const entry = new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write("clove: not built yet; run 'npm run build' in " + fileURLToPath(new URL('..', import.meta.url)) + '\n');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
