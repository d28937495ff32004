// Loading modules' code on demand: a registry maps each module name to its definition or to the
// import that loads it (src/modules/catalog.ts). The server imports what a host's config enables,
// and what those modules depend on, before it changes anything: a module whose code cannot be
// loaded stops the start, or fails the reload of that host with the running modules kept.
import type { ModuleDefinition } from './modules.js';
import { ServerError } from './errors.js';

/** A module by name: its definition, or the import that loads its code. */
export type ModuleEntry = ModuleDefinition | (() => Promise<ModuleDefinition>);

/** Definitions of the modules a host loads, and of those they depend on, by name. */
export interface ImportedModules {
  /** The modules asked for, in the order given. */
  readonly defs: ModuleDefinition[];
  /** Every definition imported for them, dependencies included: Host.load's registry. */
  readonly registry: ReadonlyMap<string, ModuleDefinition>;
}

/**
 * Import the modules named `names` from `registry`, and their dependencies. A name not in the
 * registry is skipped here (a dependency that does not exist is Host.load's error, naming who
 * needs it); an import that fails is a ServerError naming the module.
 */
export async function importModules(names: readonly string[], registry: ReadonlyMap<string, ModuleEntry>): Promise<ImportedModules> {
  const found = new Map<string, ModuleDefinition>();
  const visit = async (name: string): Promise<ModuleDefinition | undefined> => {
    const known = found.get(name);
    if (known) return known;
    const entry = registry.get(name);
    if (!entry) return undefined;
    const def = await load(name, entry);
    found.set(name, def);
    for (const dep of def.depends ?? []) await visit(dep);
    return def;
  };
  const defs: ModuleDefinition[] = [];
  for (const name of names) {
    const def = await visit(name);
    if (def) defs.push(def);
  }
  return { defs, registry: found };
}

async function load(name: string, entry: ModuleEntry): Promise<ModuleDefinition> {
  if (typeof entry !== 'function') return entry;
  try {
    return await entry();
  } catch (err) {
    throw new ServerError('module', `cannot load the code of module '${name}': ${(err as Error).message}`);
  }
}
