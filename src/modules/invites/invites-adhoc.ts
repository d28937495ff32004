// Creating invitations from a client (Prosody's mod_invites_adhoc).
// References: XEP-0401 §3 (the invite commands), XEP-0050 (ad-hoc commands), XEP-0004.
//
// - `urn:xmpp:invite#invite` ("Create new contact invite"): for local users while
//   allow_contact_invites is on (the default), else administrators. The invitee becomes the
//   creator's contact; the token also registers an account when the creator may invite new
//   users: administrators always, everyone with allow_user_invites = true.
// - `urn:xmpp:invite#create-account` ("Create new account invite"): administrators only; an
//   account with no contact.
// The result form has Prosody's fields: `landing-url` (with HTTP), `uri`, `expire`.
import { defineModule } from '../../core/modules.js';
import type { Jid } from '../../jid/jid.js';
import { adminJids } from '../adhoc/admin-adhoc.js';
import { formElement, type Field } from '../adhoc/dataforms.js';
import type { AdhocCommand, CommandOutcome } from '../adhoc/adhoc.js';
import type { InviteService } from './invites.js';
import type { Invite } from './invite-store.js';
import { StanzaError } from '../../core/errors.js';

export const NODE_INVITE = 'urn:xmpp:invite#invite';
export const NODE_CREATE_ACCOUNT = 'urn:xmpp:invite#create-account';

export default defineModule({
  name: 'invites_adhoc',
  depends: ['adhoc', 'invites'],
  setup(ctx) {
    const host = ctx.host.name;
    const admins = ctx.option.live.custom((config) => adminJids(config, host));
    const allowUserInvites = ctx.option.live.boolean('allow_user_invites', false);
    const allowContactInvites = ctx.option.live.boolean('allow_contact_invites', true);
    const isAdmin = (from: Jid): boolean => admins().has(from.bare().toString());
    const isLocal = (from: Jid): boolean => from.domain === host && from.local !== '';
    const service = (): InviteService => {
      const s = ctx.items('invite-service')[0];
      if (!s) throw new StanzaError('service-unavailable', 'invitations are not enabled on this server');
      return s;
    };
    const offer = (cmd: AdhocCommand): void => ctx.provide('adhoc-command', cmd);

    const outcome = (invite: Invite, note: string): CommandOutcome => {
      const links = service().links(invite);
      const fields: Field[] = [
        ...(links.landing ? [{ var: 'landing-url', type: 'text-single' as const, label: 'Invite web page', values: [links.landing] }] : []),
        { var: 'uri', type: 'text-single', label: 'Invite URI', values: [links.uri] },
        { var: 'expire', type: 'text-single', label: 'Invite valid until', values: [new Date(invite.expires).toISOString()] },
      ];
      return { note, payload: formElement('result', { title: 'Your invite has been created', fields }) };
    };

    offer({
      node: NODE_INVITE,
      name: 'Create new contact invite',
      allowed: (from) => isLocal(from) && (allowContactInvites() || isAdmin(from)),
      async run(from) {
        const allowRegistration = isAdmin(from) || allowUserInvites();
        const invite = await service().create({ type: 'roster', creator: from.bare().toString(), inviter: from.local, allowRegistration });
        return outcome(invite, allowRegistration
          ? 'Share this link: it creates an account on this server, and you and the new account see each other online.'
          : 'Share this link with someone who has an account: you will see each other online.');
      },
    });

    offer({
      node: NODE_CREATE_ACCOUNT,
      name: 'Create new account invite',
      allowed: isAdmin,
      async run(from) {
        const invite = await service().create({ type: 'register', creator: from.bare().toString(), allowRegistration: true });
        return outcome(invite, 'Share this link: it creates one account on this server.');
      },
    });
  },
});
