// Which code a child server has loaded, seen from outside Clove: the child is started with a
// Node loader hook (test/helpers/code-trace/) that writes every ES module URL it loads to a file,
// and the Node built-ins it has loaded to a second one.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './child-server.js';

const REGISTER = join(REPO_ROOT, 'test', 'helpers', 'code-trace', 'register.mjs');

/** The environment for startChild that makes the child list the modules it loads into `file`. */
export function tracingEnv(file: string): NodeJS.ProcessEnv {
  const preload = `--import=${pathToFileURL(REGISTER).href}`;
  return { ...process.env, CLOVE_TRACE_CODE: file, NODE_OPTIONS: [process.env.NODE_OPTIONS, preload].filter(Boolean).join(' ') };
}

/** The modules the child has loaded so far, as paths relative to the repository (`dist/…`, `node_modules/…`). */
export async function loadedCode(file: string): Promise<string[]> {
  const root = `${pathToFileURL(REPO_ROOT).href}/`;
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter((u) => u.startsWith(root)).map((u) => u.slice(root.length));
}

/**
 * The Node built-ins the child has loaded (`http`, `zlib`, `internal/…`): the first list the
 * child writes after this call, so nothing loaded before the call is missing.
 */
export async function loadedBuiltins(file: string): Promise<string[]> {
  const since = Date.now();
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const written = await stat(`${file}.builtins`).then((s) => s.mtimeMs, () => 0);
    if (written > since) return (await readFile(`${file}.builtins`, 'utf8')).split('\n');
  }
  throw new Error(`${file}.builtins: the child wrote no list of built-ins within 5 s`);
}
