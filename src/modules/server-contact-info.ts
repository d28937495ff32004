// Contact addresses of the service in its disco#info, as an extended-information form.
// References: XEP-0157 (contact addresses), XEP-0128 (extended information), XEP-0068.
// `contact_info = { abuse = { "mailto:abuse@example.org" }; admin = { "xmpp:admin@example.org" } }`
// as in Prosody's mod_server_contact_info; unset, the `admins` are published as admin
// addresses (xmpp: URIs), as Prosody does. Read at start (a reload checks it; a restart applies it).
import { defineModule } from '../core/modules.js';
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/errors.js';
import { formElement } from './adhoc/dataforms.js';

/** FORM_TYPE of the contact addresses form (XEP-0157 §5). */
const SERVERINFO = 'http://jabber.org/network/serverinfo';
/** The address kinds XEP-0157 registers, as contact_info keys. */
const KINDS = ['abuse', 'admin', 'feedback', 'sales', 'security', 'status', 'support'] as const;

/** Addresses by kind from `contact_info` (or the admins) for `host`; a malformed value fails with file:line. */
export function contactAddresses(config: Config, host: string): Map<string, string[]> {
  const found = config.lookup('contact_info', host);
  const out = new Map<string, string[]>();
  if (!found) {
    const admins = [...config.get<string[]>('admins'), ...config.get<string[]>('admins', host)];
    if (admins.length) out.set('admin', [...new Set(admins)].map((jid) => `xmpp:${jid}`));
    return out;
  }
  const fail = (what: string): never => { throw new ConfigError(found.file, found.line, what, 'contact_info'); };
  const table = found.value;
  if (typeof table !== 'object' || table === null || Array.isArray(table)) return fail('contact_info must be a table like { admin = { "xmpp:admin@example.org" } }');
  for (const [kind, value] of Object.entries(table)) {
    if (!(KINDS as readonly string[]).includes(kind)) fail(`contact_info has no kind '${kind}' (XEP-0157 has ${KINDS.join(', ')})`);
    const list = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(list) || !list.every((a) => typeof a === 'string' && a.includes(':'))) {
      fail(`contact_info.${kind} must be a list of URIs like { "mailto:${kind}@example.org" }`);
    }
    out.set(kind, list as string[]);
  }
  return out;
}

export default defineModule({
  name: 'server_contact_info',
  depends: ['disco'],
  setup(ctx) {
    const addresses = ctx.option.custom((config) => contactAddresses(config, ctx.host.name));
    if (addresses.size === 0) return;
    ctx.provide('extension', formElement('result', {
      formType: SERVERINFO,
      fields: KINDS.filter((k) => addresses.has(k)).map((k) => ({ var: `${k}-addresses`, type: 'list-multi' as const, values: addresses.get(k) ?? [] })),
    }));
  },
});
