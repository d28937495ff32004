// Service discovery for the host and for accounts. References: XEP-0030.
// Features and identities come from the modules that implement them (ctx.feature/identity).
import { defineModule } from '../core/modules.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { StanzaError } from '../core/errors.js';
import type { StanzaEvent } from '../core/events-map.js';
import { knowsAccount } from './roster/strangers.js';

export interface Identity { category: string; type: string; name?: string }
/** A disco#items entry other modules offer with ctx.provide('disco-item', …). */
export interface DiscoItem { jid: string; name?: string; node?: string }

export default defineModule({
  name: 'disco',
  setup(ctx) {
    ctx.feature(NS.DISCO_INFO);
    ctx.feature(NS.DISCO_ITEMS);
    ctx.identity('server', 'im', 'Clove');
    const host = ctx.host;

    const hostInfo = (node: string | undefined): Element => {
      if (node !== undefined) throw new StanzaError('item-not-found', 'no such node');
      const q = x('query', { xmlns: NS.DISCO_INFO });
      for (const id of host.items<Identity>('identity')) q.c('identity', { category: id.category, type: id.type, ...(id.name ? { name: id.name } : {}) });
      for (const f of [...new Set(host.items<string>('feature'))].sort()) q.c('feature', { var: f });
      return q;
    };
    ctx.iq('get', 'host', NS.DISCO_INFO, 'query', (ev) => hostInfo(ev.stanza.getChild('query')?.attrs.node));
    ctx.iq('get', 'host', NS.DISCO_ITEMS, 'query', (ev) => {
      const node = ev.stanza.getChild('query')?.attrs.node;
      const q = x('query', { xmlns: NS.DISCO_ITEMS, ...(node ? { node } : {}) });
      for (const it of host.items<DiscoItem>('disco-item')) {
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
      return to !== undefined && (await knowsAccount(host, to.local, ev.from)) && (await host.accounts.exists(to.local));
    };
    ctx.iq('get', ['self', 'bare'], NS.DISCO_INFO, 'query', async (ev) => {
      if (!(await answers(ev))) throw new StanzaError('service-unavailable');
      const q = x('query', { xmlns: NS.DISCO_INFO });
      q.c('identity', { category: 'account', type: 'registered' });
      for (const f of [...new Set(host.items<string>('account-feature'))].sort()) q.c('feature', { var: f });
      return q;
    });
    ctx.iq('get', ['self', 'bare'], NS.DISCO_ITEMS, 'query', async (ev) => {
      if (!(await answers(ev))) throw new StanzaError('service-unavailable');
      return x('query', { xmlns: NS.DISCO_ITEMS });
    });
  },
});
