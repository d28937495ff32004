// The names of Clove's modules (Prosody's names) and, for each, the import that loads its code.
// Nothing here imports a module's implementation: the server imports a module when a host's
// config enables it (at start or on a reload), so the code of modules a config leaves off never
// takes memory (issue 15). `clove check config` and the other commands need only the names.
import type { ModuleDefinition } from '../core/modules.js';

/** Loads one module's code and gives its definition. */
export type ModuleImport = () => Promise<ModuleDefinition>;

/** Every module Clove has, by Prosody name, with the import of its code. */
export const MODULE_IMPORTS: ReadonlyMap<string, ModuleImport> = new Map<string, ModuleImport>([
  ['session', async () => (await import('./session.js')).default],
  ['message', async () => (await import('./message.js')).default],
  ['disco', async () => (await import('./disco.js')).default],
  ['ping', async () => (await import('./ping.js')).default],
  ['vcard', async () => (await import('./vcard/vcard.js')).default],
  ['presence', async () => (await import('./presence/presence.js')).default],
  ['roster', async () => (await import('./roster/roster.js')).default],
  ['s2s', async () => (await import('./s2s.js')).default],
  ['darknet', async () => (await import('./darknet.js')).default],
  ['register', async () => (await import('./register.js')).default],
  ['private', async () => (await import('./private.js')).default],
  ['offline', async () => (await import('./offline.js')).default],
  ['blocklist', async () => (await import('./blocklist.js')).default],
  ['carbons', async () => (await import('./carbons.js')).default],
  ['version', async () => (await import('./version.js')).default],
  ['time', async () => (await import('./time.js')).default],
  ['uptime', async () => (await import('./uptime.js')).default],
  ['csi', async () => (await import('./csi.js')).default],
  ['smacks', async () => (await import('./smacks.js')).default],
  ['vcard_update', async () => (await import('./vcard/vcard-update.js')).default],
  ['adhoc', async () => (await import('./adhoc/adhoc.js')).default],
  ['admin_adhoc', async () => (await import('./adhoc/admin-adhoc.js')).default],
  ['server_contact_info', async () => (await import('./server-contact-info.js')).default],
  ['lastactivity', async () => (await import('./lastactivity/lastactivity.js')).default],
  ['pep', async () => (await import('./pep/pep.js')).default],
  ['bookmarks', async () => (await import('./bookmarks/bookmarks.js')).default],
  ['vcard_legacy', async () => (await import('./vcard/vcard-legacy.js')).default],
  ['pubsub', async () => (await import('./pubsub-service/pubsub.js')).default],
  ['muc', async () => (await import('./muc/muc.js')).default],
  ['mam', async () => (await import('./mam/mam.js')).default],
  ['muc_mam', async () => (await import('./muc-mam/muc-mam.js')).default],
  ['http_file_share', async () => (await import('./http-file-share/share.js')).default],
  ['http_altconnect', async () => (await import('./http-altconnect.js')).default],
  ['http_openmetrics', async () => (await import('./http-ops.js')).httpOpenmetrics],
  ['http_status', async () => (await import('./http-ops.js')).httpStatus],
  ['invites', async () => (await import('./invites/invites.js')).default],
  ['invites_adhoc', async () => (await import('./invites/invites-adhoc.js')).default],
  ['invites_register', async () => (await import('./invites/invites-register.js')).default],
  ['invites_page', async () => (await import('./invites/invites-page.js')).default],
  ['announce', async () => (await import('./announce.js')).default],
  ['motd', async () => (await import('./motd.js')).default],
  ['welcome', async () => (await import('./welcome.js')).default],
  ['websocket', async () => (await import('./web-clients.js')).websocket],
  ['bosh', async () => (await import('./web-clients.js')).bosh],
]);
