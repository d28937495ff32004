// Which modules a Component host loads. As in Prosody, a component gets the module that
// implements it (Component "conference.example" "muc" → muc; an external component → the
// `component` module) plus what its own section lists in modules_enabled, minus its own
// modules_disabled. The global modules_enabled does not apply: the modules Prosody lets a
// component inherit (tls, dialback, s2s, …) are Clove's stream layer, which serves every host.
// What Clove loads on every component in their place: `s2s` (stanzas to other domains go out
// over federation, with dialback for the component's own domain) and `darknet` (its routing).
// A component module Clove does not have yet is one error line naming the file and line; the
// host still comes up (as in Prosody, whose component stays routable when its module fails to
// load), so its domain never leaks to federation and stanzas to it get service-unavailable.
import type { Config, HostSection } from '../config/config.js';
import { resolveModules, type ModuleNames } from '../modules/resolve.js';

/** Loaded on every component host whatever its section says. */
const ALWAYS = ['s2s', 'darknet'];
/** The module name of an external component (Prosody's mod_component). */
export const EXTERNAL = 'component';

/** Names of the modules to load for the component `section`, from `registry`, with one line per problem. */
export function resolveComponentModules(config: Config, section: HostSection, registry: ModuleNames): { load: string[]; warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  const name = section.name;
  const own = config.setIn('modules_enabled', name) === 'host' ? config.get<string[]>('modules_enabled', name) : [];
  const disabled = new Set(config.setIn('modules_disabled', name) === 'host' ? config.get<string[]>('modules_disabled', name) : []);
  const main = section.component ?? EXTERNAL;
  const load: string[] = [];
  const add = (given: string): boolean => {
    if (!registry.has(given)) return false;
    if (!load.includes(given)) load.push(given);
    return true;
  };
  for (const m of ALWAYS) add(m);
  if (!add(main)) {
    errors.push(`${section.file}:${section.line}: Component "${name}" "${main}": module '${main}' is not available in Clove yet; the component has no service (stanzas to ${name} get service-unavailable)`);
  }
  for (const m of own) {
    if (disabled.has(m) || m === main) continue;
    if (!add(m)) warnings.push(`${config.has('modules_enabled', name) ? config.where('modules_enabled', name) : `${section.file}:${section.line}`}: module '${m}' is not available in Clove yet; ignored (option 'modules_enabled' of Component "${name}")`);
  }
  return { load, warnings, errors };
}

/** Module names for any host of `config`: resolveModules for a VirtualHost, the component rule above for a Component. */
export function modulesFor(config: Config, name: string, registry: ModuleNames): { load: string[]; warnings: string[]; errors: string[] } {
  const section = config.hosts.find((h) => h.name === name);
  if (section?.kind === 'Component') return resolveComponentModules(config, section, registry);
  return { ...resolveModules(config, name, registry), errors: [] };
}
