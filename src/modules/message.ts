// Message delivery to local accounts. References: RFC 6121 §8.5.1 (no such account), §8.5.2
// (bare), §8.5.3 (full).
//
// What a sender learns from a message that was not delivered live must not tell a stranger
// whether the account exists or is offline: a message for a missing account is dropped without
// an answer (§8.5.1 allows that), just as one for an existing, offline account is stored without
// one. A message offline storage does not take (no-store, or no room) is refused with
// service-unavailable only to the account itself and its presence contacts; a stranger's is
// dropped silently, as it would be for a missing account.
import { defineModule } from '../core/modules.js';
import { Priority } from '../core/events.js';
import { StanzaError } from '../core/errors.js';
import type { StanzaEvent } from '../core/events-map.js';
import type { C2SSession } from '../core/session.js';
import { knowsAccount } from './roster/strangers.js';

export default defineModule({
  name: 'message',
  setup(ctx) {
    const host = ctx.host;

    /** Deliver to the account's available resources with non-negative priority (§8.5.2.1). */
    const toBare = async (ev: StanzaEvent): Promise<true> => {
      const { stanza, to } = ev;
      const type = stanza.attrs.type ?? 'normal';
      const user = to!.local;
      if (type === 'groupchat') throw new StanzaError('service-unavailable');
      const targets = host.sessions.ofUser(host.name, user).filter((s: C2SSession) => s.presence !== undefined && s.priority >= 0);
      if (targets.length) {
        for (const s of targets) s.send(stanza);
        return true;
      }
      if (type === 'error' || type === 'headline') return true;
      if (!(await host.accounts.exists(user))) return true;
      // Offline storage (XEP-0160) takes it when loaded; otherwise a contact learns it was not delivered.
      if ((await ctx.fire('message/offline', ev)) !== undefined) return true;
      if (!(await knowsAccount(ctx, user, ev.from))) return true;
      throw new StanzaError('service-unavailable', 'the recipient is offline');
    };

    ctx.hook('message/bare', toBare, Priority.fallback);
    ctx.hook('message/full', (ev) => {
      const to = ev.to!;
      const s = host.sessions.get(to.domain, to.local, to.resource);
      if (s) {
        s.send(ev.stanza);
        return true;
      }
      // No such resource: chat and normal fall back to the bare JID (§8.5.3.2.1).
      const type = ev.stanza.attrs.type ?? 'normal';
      if (type === 'groupchat') throw new StanzaError('service-unavailable');
      if (type === 'error' || type === 'headline') return true;
      return toBare(ev);
    }, Priority.fallback);
    // Messages to the server itself: nothing consumes them yet; errors and headlines are dropped.
    ctx.hook('message/host', (ev) => {
      const type = ev.stanza.attrs.type ?? 'normal';
      if (type === 'error' || type === 'headline') return true;
      throw new StanzaError('service-unavailable');
    }, Priority.fallback);
  },
});
