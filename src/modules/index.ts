// The module registry: Prosody's module names mapped to Clove's modules, and which to load.
import type { Config } from '../config/config.js';
import type { ModuleDefinition } from '../core/modules.js';
import { ConfigError } from '../config/errors.js';
import session from './session.js';
import message from './message.js';
import disco from './disco.js';
import ping from './ping.js';
import vcard from './vcard/vcard.js';
import presence from './presence/presence.js';
import roster from './roster/roster.js';
import darknet from './darknet.js';
import s2s from './s2s.js';
import register from './register.js';
import privateStorage from './private.js';
import offline from './offline.js';
import blocklist from './blocklist.js';
import carbons from './carbons.js';
import version from './version.js';
import time from './time.js';
import uptime from './uptime.js';
import { httpOpenmetrics, httpStatus } from './http-ops.js';
import csi from './csi.js';
import smacks from './smacks.js';
import vcardUpdate from './vcard/vcard-update.js';
import adhoc from './adhoc/adhoc.js';
import adminAdhoc from './adhoc/admin-adhoc.js';
import bookmarks from './bookmarks/bookmarks.js';
import vcardLegacy from './vcard/vcard-legacy.js';
import serverContactInfo from './server-contact-info.js';
import lastactivity from './lastactivity/lastactivity.js';
import pep from './pep/pep.js';
import pubsub from './pubsub-service/pubsub.js';
import muc from './muc/muc.js';
import mam from './mam/mam.js';
import mucMam from './muc-mam/muc-mam.js';
import httpFileShare from './http-file-share/share.js';
import httpAltconnect from './http-altconnect.js';
import invites from './invites/invites.js';
import invitesAdhoc from './invites/invites-adhoc.js';
import invitesRegister from './invites/invites-register.js';
import invitesPage from './invites/invites-page.js';
import motd from './motd.js';
import announce from './announce.js';
import welcome from './welcome.js';
import { bosh, websocket } from './web-clients.js';

/** Every module Clove has, by Prosody name. */
export const MODULES: ReadonlyMap<string, ModuleDefinition> = new Map(
  [session, message, disco, ping, vcard, presence, roster, s2s, darknet, register, privateStorage, offline, blocklist, carbons, version, time, uptime, csi, smacks, vcardUpdate, adhoc, adminAdhoc, serverContactInfo, lastactivity, pep, bookmarks, vcardLegacy, pubsub, muc, mam, mucMam, httpFileShare, httpAltconnect, httpOpenmetrics, httpStatus, invites, invitesAdhoc, invitesRegister, invitesPage, announce, motd, welcome, websocket, bosh].map((m) => [m.name, m]),
);

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
 * Modules to load for a host, with one warning per enabled module Clove does not have. Names are
 * looked up in `registry` (MODULES, or MODULES with a test's extra modules, which may replace one).
 */
export function resolveModules(config: Config, host: string, registry: ReadonlyMap<string, ModuleDefinition> = MODULES): { load: ModuleDefinition[]; warnings: string[] } {
  const warnings: string[] = [];
  const explicit = config.setIn('modules_enabled', host) !== undefined;
  const enabled = new Set<string>(explicit ? [...config.get<string[]>('modules_enabled'), ...(config.setIn('modules_enabled', host) === 'host' ? config.get<string[]>('modules_enabled', host) : [])] : DEFAULT_ENABLED);
  const disabled = new Set<string>([...config.get<string[]>('modules_disabled'), ...config.get<string[]>('modules_disabled', host)]);
  const load: ModuleDefinition[] = [];
  for (const given of [...ALWAYS, ...AUTOLOAD, ...enabled]) {
    const name = ALIASES[given] ?? given;
    if ((disabled.has(name) || disabled.has(given)) && !ALWAYS.includes(name)) continue;
    if (BUILT_IN.has(name)) continue;
    const def = registry.get(name);
    if (!def) {
      warnings.push(`${config.where('modules_enabled', host)}: module '${given}' is not available in Clove yet; ignored (option 'modules_enabled')`);
      continue;
    }
    if (!load.includes(def)) load.push(def);
  }
  if (!load.some((m) => m.name === darknet.name)) refuseDarknetOnlyWithoutRouting(config, host);
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
