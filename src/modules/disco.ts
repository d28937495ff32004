// Service discovery for the host and for accounts. References: XEP-0030, XEP-0128 (extended
// information forms).
// Features, identities, extension forms and items come from the modules that implement them
// (ctx.feature, ctx.identity, ctx.provide('extension' | 'disco-item' | 'account-feature', …));
// the `disco_items` option adds items of its own, as Prosody's mod_disco does.
import { defineModule } from '../core/modules.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { StanzaError } from '../core/errors.js';
import type { StanzaEvent } from '../core/events-map.js';
import type { DiscoItem } from '../core/items-map.js';
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/errors.js';
import { knowsAccount } from './roster/strangers.js';

export type { DiscoItem, Identity } from '../core/items-map.js';

/** `disco_items = { { "jid", "name" }, … }` for `host`; a malformed entry fails with file:line. */
export function configuredItems(config: Config, host: string): DiscoItem[] {
  const found = config.lookup('disco_items', host);
  if (!found) return [];
  const fail = (what: string): never => { throw new ConfigError(found.file, found.line, what, 'disco_items'); };
  const list = found.value;
  if (!Array.isArray(list)) return fail('disco_items must be a list of { "jid", "name" } entries');
  return list.map((entry: unknown, i) => {
    const [jid, name, ...rest] = Array.isArray(entry) ? entry as unknown[] : [];
    if (typeof jid !== 'string' || jid === '' || (name !== undefined && typeof name !== 'string') || rest.length) {
      return fail(`disco_items entry ${i + 1} must be { "jid" } or { "jid", "name" }`);
    }
    return name === undefined ? { jid } : { jid, name };
  });
}

export default defineModule({
  name: 'disco',
  setup(ctx) {
    ctx.feature(NS.DISCO_INFO);
    ctx.feature(NS.DISCO_ITEMS);
    ctx.identity('server', 'im', 'Clove');
    for (const item of ctx.option.custom((config) => configuredItems(config, ctx.host.name))) ctx.provide('disco-item', item);

    const hostInfo = (node: string | undefined): Element => {
      if (node !== undefined) throw new StanzaError('item-not-found', 'no such node');
      const q = x('query', { xmlns: NS.DISCO_INFO });
      for (const id of ctx.items('identity')) q.c('identity', { category: id.category, type: id.type, ...(id.name ? { name: id.name } : {}) });
      for (const f of [...new Set(ctx.items('feature'))].sort()) q.c('feature', { var: f });
      for (const form of ctx.items('extension')) q.append(form);
      return q;
    };
    ctx.iq('get', 'host', NS.DISCO_INFO, 'query', (ev) => hostInfo(ev.stanza.getChild('query')?.attrs.node));
    ctx.iq('get', 'host', NS.DISCO_ITEMS, 'query', (ev) => {
      const node = ev.stanza.getChild('query')?.attrs.node;
      const q = x('query', { xmlns: NS.DISCO_ITEMS, ...(node ? { node } : {}) });
      for (const it of ctx.items('disco-item')) {
        if ((it.node ?? undefined) !== node && node !== undefined) continue;
        q.c('item', { jid: it.jid, ...(it.name ? { name: it.name } : {}), ...(it.node ? { node: it.node } : {}) });
      }
      return q;
    });

    // An account answers for itself (XEP-0030 §3.2), but only to itself and to the contacts it
    // shares presence with, as Prosody's mod_disco does. Strangers get service-unavailable
    // whether or not the account exists, so disco cannot tell them which accounts do.
    const answers = async (ev: StanzaEvent): Promise<boolean> => {
      const to = ev.to ?? ev.from?.bare();
      return to !== undefined && (await knowsAccount(ctx, to.local, ev.from)) && (await ctx.host.accounts.exists(to.local));
    };
    ctx.iq('get', ['self', 'bare'], NS.DISCO_INFO, 'query', async (ev) => {
      if (!(await answers(ev))) throw new StanzaError('service-unavailable');
      const q = x('query', { xmlns: NS.DISCO_INFO });
      q.c('identity', { category: 'account', type: 'registered' });
      for (const id of ctx.items('account-identity')) q.c('identity', { category: id.category, type: id.type, ...(id.name ? { name: id.name } : {}) });
      for (const f of [...new Set(ctx.items('account-feature'))].sort()) q.c('feature', { var: f });
      return q;
    });
    ctx.iq('get', ['self', 'bare'], NS.DISCO_ITEMS, 'query', async (ev) => {
      if (!(await answers(ev))) throw new StanzaError('service-unavailable');
      return x('query', { xmlns: NS.DISCO_ITEMS });
    });
  },
});
