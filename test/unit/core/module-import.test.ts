// Importing the code of the modules a host loads, and of what they depend on (src/core/module-import.ts).
import { describe, expect, it } from 'vitest';
import { importModules, type ModuleEntry } from '../../../src/core/module-import.js';
import { defineModule, type ModuleDefinition } from '../../../src/core/modules.js';
import { ServerError } from '../../../src/core/errors.js';

const base = defineModule({ name: 'base', setup() {} });
const top = defineModule({ name: 'top', depends: ['base'], setup() {} });
const other = defineModule({ name: 'other', setup() {} });

/** A registry whose entries record when their code is imported. */
function registry(imported: string[], extra: [string, ModuleEntry][] = []): Map<string, ModuleEntry> {
  const lazy = (def: ModuleDefinition): ModuleEntry => async () => { imported.push(def.name); return def; };
  return new Map<string, ModuleEntry>([['base', lazy(base)], ['top', lazy(top)], ['other', lazy(other)], ...extra]);
}

describe('importModules', () => {
  it('imports what is asked and its dependencies, nothing else', async () => {
    const imported: string[] = [];
    const r = await importModules(['top'], registry(imported));
    expect(r.defs).toEqual([top]);
    expect([...r.registry.keys()].sort()).toEqual(['base', 'top']);
    expect(imported.sort()).toEqual(['base', 'top']);
  });

  it('takes a definition given as it is (a test module) and skips a name it does not know', async () => {
    const given = defineModule({ name: 'other', setup() {} });
    const r = await importModules(['other', 'nowhere'], registry([], [['other', given]]));
    expect(r.defs).toEqual([given]);
  });

  it('names the module whose code cannot be loaded', async () => {
    const broken: ModuleEntry = () => Promise.reject(new Error("Cannot find module '/x/uptime.js'"));
    const err = await importModules(['base', 'uptime'], registry([], [['uptime', broken]])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerError);
    expect((err as ServerError).message).toBe("cannot load the code of module 'uptime': Cannot find module '/x/uptime.js'");
  });
});
