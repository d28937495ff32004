// Message Archive Management for accounts (XEP-0313 urn:xmpp:mam:2 with #extended, and the older
// urn:xmpp:mam:1 namespace), stanza ids (XEP-0359), paging (XEP-0059). Behaviour follows
// Prosody's mod_mam: only the account itself may query or configure its archive (a query from
// anyone else is not answered: service-unavailable, as Prosody's iq-set/self hook leaves it),
// results go to the asking resource only, preferences as mam_prefs, retention by
// archive_expires_after, and an archive at its limit drops its oldest 1 % to keep the new message.
//
// The module is built by createMam(clock) so tests can move time (./expiry.ts); the shipped
// module uses the system clock.
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { defineModule, type ModuleDefinition } from '../../core/modules.js';
import { Priority } from '../../core/events.js';
import { StanzaError } from '../../core/errors.js';
import type { StanzaEvent } from '../../core/events-map.js';
import { onLocalMessage, onRemoteMessage, type ArchivingDeps } from './archiving.js';
import { hasClaim } from './stanza-id.js';
import { startExpiry, systemClock, type MamClock } from './expiry.js';
import { answerQuery, parseQuery } from './query.js';
import { queryForm } from './form.js';
import { archiveLimits } from './store-limits.js';
import { PrefsCache } from './prefs-cache.js';
import { defaultPrefs, parsePrefs, prefsElement, prefsRule, type DefaultPolicy } from './prefs.js';

/** The namespaces a query may use: mam:2 (current) and mam:1 (older clients). */
const QUERY_NS = [NS.MAM, NS.MAM1] as const;

/** The archive module, reading time from `clock`. */
export function createMam(clock: MamClock): ModuleDefinition {
  return defineModule({
    name: 'mam',
    setup(ctx) {
      const host = ctx.host;
      const pageMax = ctx.option.number('max_archive_query_results', 50, { min: 1, max: 1000, integer: true });
      const expires = ctx.option.get<number>('archive_expires_after');
      const store = ctx.store('archive', 'archive', archiveLimits(ctx));
      const prefs = new PrefsCache(ctx.store('archive_prefs', 'keyval'), defaultPrefs(ctx.option.get<DefaultPolicy>('default_archive_policy')));

      for (const f of [NS.MAM, NS.MAM1, NS.MAM_EXTENDED, NS.SID]) ctx.provide('account-feature', f);

      const exists = async (user: string): Promise<boolean> =>
        host.sessions.ofUser(host.name, user).length > 0 || (await host.accounts.exists(user));
      const inRoster = async (user: string, bare: string): Promise<boolean> => {
        const rosters = ctx.items('roster-store')[0];
        return rosters !== undefined && (await rosters.load(user)).items[bare] !== undefined;
      };
      const deps: ArchivingDeps = {
        host: host.name,
        store,
        log: ctx.log,
        now: () => clock.now(),
        async shallArchive(user, withBare) {
          if (!(await exists(user))) return false;
          const rule = prefsRule(await prefs.get(user), withBare);
          return rule === 'roster' ? inRoster(user, withBare) : rule;
        },
      };
      // After blocking and the offline hold, before carbons copy and delivery.
      ctx.hook('message/bare', (ev) => onLocalMessage(deps, ev), Priority.archive);
      ctx.hook('message/full', (ev) => onLocalMessage(deps, ev), Priority.archive);
      ctx.hook('route/remote', (ev) => onRemoteMessage(deps, ev), Priority.archive);
      ctx.hook('route/other-host', (ev) => onRemoteMessage(deps, ev), Priority.archive);
      // A message offline storage did not take (not loaded, or refused) but the archive did is
      // not an error for its sender: the account reads it from the archive (as Prosody's mod_mam).
      ctx.hook('message/offline', (ev) => (ev.to && hasClaim(ev.stanza, ev.to.bare().toString()) ? true : undefined), Priority.late);

      /** The account asking (an iq to itself from one of its resources). */
      const asker = (ev: StanzaEvent): { user: string; to: string; send: (el: Element) => void } => {
        const s = ev.origin;
        if (!s || s.kind !== 'c2s' || !ev.from || ev.from.domain !== host.name) throw new StanzaError('service-unavailable');
        return { user: ev.from.local, to: ev.from.toString(), send: (el) => s.send(el) };
      };

      for (const ns of QUERY_NS) {
        ctx.iq('get', 'self', ns, 'query', (ev) => {
          asker(ev);
          return queryForm(ns);
        });
        ctx.iq('set', 'self', ns, 'query', async (ev) => {
          const who = asker(ev);
          const q = parseQuery(ev.stanza.getChild('query', ns)!, ns, pageMax);
          return answerQuery(store, who.user, q, { ns, to: who.to }, who.send,
            (item) => ctx.log.warn({ user: who.user, id: item.id }, 'an archived message could not be parsed'));
        });
        ctx.iq('get', 'self', ns, 'prefs', async (ev) => prefsElement(ns, await prefs.get(asker(ev).user)));
        ctx.iq('set', 'self', ns, 'prefs', async (ev) => {
          const { user } = asker(ev);
          const next = parsePrefs(ev.stanza.getChild('prefs', ns)!, await prefs.get(user));
          await prefs.set(user, next);
          return prefsElement(ns, next);
        });
      }

      // Metadata (XEP-0313 §7): the first and last item, with their times.
      ctx.iq('get', 'self', NS.MAM, 'metadata', async (ev) => {
        const m = await store.metadata(asker(ev).user);
        const point = (name: string, p: { id: string; when: number } | undefined) =>
          p && x(name, { id: p.id, timestamp: new Date(p.when).toISOString() });
        return x('metadata', { xmlns: NS.MAM }, point('start', m.first), point('end', m.last));
      });

      ctx.hook('user-deleted', async ({ host: name, username }) => {
        if (name !== host.name) return undefined;
        await store.deleteOwner(username);
        await prefs.set(username, undefined);
        return undefined;
      });

      const stop = startExpiry(expires, clock, (before) => store.deleteOlderThan(before),
        (n) => ctx.log.info({ deleted: n }, 'expired archived messages deleted'),
        (err) => ctx.log.error({ err }, 'deleting expired archived messages failed'));
      return stop;
    },
  });
}

export default createMam(systemClock);
