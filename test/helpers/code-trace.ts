// Which code a child server has loaded, seen from outside Clove: the child is started with a
// Node loader hook (test/helpers/code-trace/) that writes every ES module URL it loads to a file.
import { readFile } from 'node:fs/promises';
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
