// Every module's code, imported at once: for tests and tools that want the definitions
// themselves. The server never imports this file: it loads each module's code on demand through
// the catalog (./catalog.ts), so the modules a config leaves off take no memory.
import type { ModuleDefinition } from '../core/modules.js';
import { MODULE_IMPORTS } from './catalog.js';

export { MODULE_IMPORTS, type ModuleImport } from './catalog.js';
export { resolveModules } from './resolve.js';

/** Every module Clove has, by Prosody name, its code loaded. */
export const MODULES: ReadonlyMap<string, ModuleDefinition> = new Map(
  await Promise.all([...MODULE_IMPORTS].map(async ([name, load]) => [name, await load()] as const)),
);
