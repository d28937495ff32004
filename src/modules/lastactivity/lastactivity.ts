// Last activity of accounts, as Prosody's mod_lastactivity. References: XEP-0012 §3 (offline user).
//
// An iq:last query to an account's bare JID is answered with the seconds since the account last
// went offline and the status of that unavailable presence, to the account itself and to the
// contacts with a presence subscription to it (from/both). Everyone else gets `forbidden`,
// whether or not the account exists, as Prosody answers (its check is the roster alone).
// Like Prosody, the answer does not look at whether the user is online now: it is the time since
// the last logout, and 0 with no status when none is known. Unlike Prosody, a logout is when the
// last available resource goes (XEP-0012's "last logged out"), not any resource, and it is kept
// across restarts (Prosody keeps it in memory). A query to the server itself is the uptime
// module's, as in Prosody.
//
// Off by default: Debian's prosody.cfg.lua does not list it (enable with
// modules_enabled = { …; "lastactivity" }).
import { x } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { defineModule } from '../../core/modules.js';
import { Priority } from '../../core/events.js';
import { StanzaError } from '../../core/errors.js';
import type { C2SSession } from '../../core/session.js';
import { knowsAccount } from '../roster/strangers.js';
import { Logouts, type LastLogout } from './logouts.js';

/** session.data key: this session's explicit unavailable presence was already recorded. */
const RECORDED = 'lastactivity.recorded';

export default defineModule({
  name: 'lastactivity',
  setup(ctx) {
    const host = ctx.host;
    const logouts = new Logouts(ctx.store<LastLogout>('lastactivity', 'keyval'), (err) => ctx.log.error({ err }, 'writing a last logout failed'));
    const now = (): number => Math.floor(Date.now() / 1000);
    ctx.feature(NS.LAST);
    ctx.provide('account-feature', NS.LAST);

    /** True when no resource of `session`'s user other than it is available. */
    const lastResource = (session: C2SSession): boolean =>
      !host.sessions.ofUser(host.name, session.username).some((s) => s !== session && s.presence !== undefined);

    // A client's broadcast presence (no `to`), seen before the presence module handles it.
    ctx.hook('presence/self', (ev) => {
      const s = ev.origin;
      if (!s || s.kind !== 'c2s' || !s.jid) return undefined;
      if (ev.stanza.attrs.type === undefined) s.data.delete(RECORDED);
      else if (ev.stanza.attrs.type === 'unavailable' && s.presence !== undefined && lastResource(s)) {
        logouts.record(s.username, { t: now(), status: ev.stanza.getChildText('status') ?? '' });
        s.data.set(RECORDED, true);
      }
      return undefined;
    }, Priority.early);

    // A session that ends while available went offline without saying so (Prosody sets the status
    // "Disconnected: <error>" when the stream ended with one).
    ctx.hook('session-closed', ({ session, reason }) => {
      if (session.presence === undefined || session.data.get(RECORDED) || !lastResource(session)) return;
      logouts.record(session.username, { t: now(), status: reason === 'closed' ? '' : `Disconnected: ${reason}` });
    });

    ctx.iq('get', ['bare', 'self'], NS.LAST, 'query', async (ev) => {
      const user = (ev.to ?? ev.from?.bare())?.local;
      if (user === undefined || !(await knowsAccount(ctx, user, ev.from))) throw new StanzaError('forbidden');
      const last = await logouts.get(user);
      const seconds = last ? Math.max(0, now() - last.t) : 0;
      return x('query', { xmlns: NS.LAST, seconds: String(seconds) }, last?.status || undefined);
    });

    ctx.hook('user-deleted', async ({ host: name, username }) => {
      if (name === host.name) await logouts.forget(username);
    });

    return () => logouts.flush();
  },
});
