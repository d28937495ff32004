// Announcements to everyone online (Prosody's mod_announce): an administrator's message to
// `<host>/announce/online` goes, as a headline from the host, to every bound session of the
// host. The XEP-0133 announce command (module admin_adhoc) sends through the same function.
// A non-admin's message there gets forbidden. References: XEP-0133 §4.23, RFC 6121 §5.2.2.
import { defineModule } from '../core/modules.js';
import { StanzaError } from '../core/errors.js';
import { adminJids, announceToOnline } from './adhoc/admin-adhoc.js';

/** COMPAT: jabberd — the resource of the host JID that takes announcements. */
const ANNOUNCE_RESOURCE = 'announce/online';

export default defineModule({
  name: 'announce',
  setup(ctx) {
    const admins = ctx.option.live.custom((config) => adminJids(config, ctx.host.name));
    ctx.hook('message/host', (ev) => {
      if (ev.to?.resource !== ANNOUNCE_RESOURCE) return undefined;
      const from = ev.from;
      if (!from || ev.origin?.kind !== 'c2s' || !admins().has(from.bare().toString())) {
        ctx.log.warn({ from: from?.bare().toString() }, 'a non-admin tried to send a server announcement');
        throw new StanzaError('forbidden', 'only administrators may send announcements');
      }
      const body = ev.stanza.getChildText('body');
      if (body === undefined) return true;
      const subject = ev.stanza.getChildText('subject');
      const n = announceToOnline(ctx, body, subject);
      ctx.log.info({ sessions: n }, 'announcement sent to online users');
      return true;
    });
  },
});
