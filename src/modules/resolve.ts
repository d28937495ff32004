// Which modules a VirtualHost loads: Prosody's module names, from modules_enabled and
// modules_disabled, resolved against the catalog's names (./catalog.ts) without importing any
// module's code.
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/errors.js';
import { MODULE_IMPORTS } from './catalog.js';

/** What name resolution needs of a registry: which names exist. */
export interface ModuleNames {
  has(name: string): boolean;
}

/** Loaded on every host whatever the config says (Prosody loads these implicitly too). */
const ALWAYS = ['session', 'message', 'presence', 's2s'];

/**
 * Loaded by default whatever modules_enabled says, but modules_disabled may turn them off
 * (Prosody's autoload). darknet is here because darknet routing is what Clove exists for: a
 * config that names only the darknet options must route .i2p peers through the proxy.
 */
const AUTOLOAD = ['offline', 'darknet'];

/** Prosody names that are part of Clove's stream layer rather than modules. */
const BUILT_IN = new Set(['tls', 'saslauth', 'c2s', 'dialback', 'bind', 'auth_internal_hashed', 'auth_internal_plain', 'posix', 'legacyauth']);

/** What a fresh Prosody config enables, for a config that does not say. */
const DEFAULT_ENABLED = ['roster', 'saslauth', 'tls', 'dialback', 'disco', 'ping', 'vcard', 'register', 'private', 'blocklist', 'carbons', 'version', 'time', 'csi', 'smacks', 'vcard_update', 'admin_adhoc', 'pep', 'bookmarks', 'vcard_legacy', 'mam'];

/** Other names Prosody configs use for the same features. */
const ALIASES: Readonly<Record<string, string>> = { csi_simple: 'csi', blocking: 'blocklist', http_host_meta: 'http_altconnect' };

/**
 * Names of the modules to load for a host, in order, with one warning per enabled module Clove
 * does not have. Names are looked up in `registry` (the catalog, or the catalog with a test's
 * extra modules); nothing is imported here.
 */
export function resolveModules(config: Config, host: string, registry: ModuleNames = MODULE_IMPORTS): { load: string[]; warnings: string[] } {
  const warnings: string[] = [];
  const explicit = config.setIn('modules_enabled', host) !== undefined;
  const enabled = new Set<string>(explicit ? [...config.get<string[]>('modules_enabled'), ...(config.setIn('modules_enabled', host) === 'host' ? config.get<string[]>('modules_enabled', host) : [])] : DEFAULT_ENABLED);
  const disabled = new Set<string>([...config.get<string[]>('modules_disabled'), ...config.get<string[]>('modules_disabled', host)]);
  const load: string[] = [];
  for (const given of [...ALWAYS, ...AUTOLOAD, ...enabled]) {
    const name = ALIASES[given] ?? given;
    if ((disabled.has(name) || disabled.has(given)) && !ALWAYS.includes(name)) continue;
    if (BUILT_IN.has(name)) continue;
    if (!registry.has(name)) {
      warnings.push(`${config.where('modules_enabled', host)}: module '${given}' is not available in Clove yet; ignored (option 'modules_enabled')`);
      continue;
    }
    if (!load.includes(name)) load.push(name);
  }
  if (!load.includes('darknet')) refuseDarknetOnlyWithoutRouting(config, host);
  return { load, warnings };
}

/** darknet_only (on by default) with darknet routing disabled is a start-up error naming file and line. */
function refuseDarknetOnlyWithoutRouting(config: Config, host: string): void {
  if (!config.get<boolean>('darknet_only', host)) return;
  const onlyLine = config.lineOf('darknet_only', host);
  const disabledLine = config.lineOf('modules_disabled', host);
  const only = onlyLine ? 'darknet_only = true' : 'darknet_only is on (the default)';
  const at = config.source(onlyLine ? 'darknet_only' : 'modules_disabled', host);
  throw new ConfigError(
    at.file, at.line,
    `${only} but darknet routing is disabled by modules_disabled${disabledLine ? ` (${config.source('modules_disabled', host).file === at.file ? `line ${disabledLine}` : config.where('modules_disabled', host)})` : ''} for host ${host}; remove "darknet" from modules_disabled, or set darknet_only = false to allow clearnet federation`,
    'darknet_only',
  );
}
