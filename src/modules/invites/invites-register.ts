// Using invitations over XMPP (Prosody's mod_invites_register): registration with a token
// while allow_registration is off, and pre-authenticated subscription requests.
// References: XEP-0445 (pre-authenticated in-band registration), XEP-0379 (pre-authenticated
// roster subscription), XEP-0077, RFC 6121 §3.4 (pre-approval).
//
// - Before authentication the client sends `<iq type='set'><preauth xmlns='urn:xmpp:pars:0'
//   token='…'/></iq>`; a valid token is remembered for the connection and the result lets it
//   register (module register asks this module's gate). An unknown, used or expired token gets
//   item-not-found (cancel) as XEP-0445 §4 shows (COMPAT: Prosody answers forbidden). Guessing
//   is throttled per connection and per host (./guard.ts).
// - The invitation is used up when the account exists (never at preauth, §4); the inviter of a
//   contact invitation and the new account are then subscribed both ways.
// - `<presence type='subscribe'>` to a local user carrying `<preauth token='…'/>` of that
//   user's contact invitation is approved at once (the invitation pre-approves the contact, and
//   the user asks for the contact's presence in return), and the invitation is used up.
import { defineModule } from '../../core/modules.js';
import { x, Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { StanzaError, errorReply, stanzaErrorFor } from '../../core/errors.js';
import { iqResult } from '../../core/stanza.js';
import { Priority } from '../../core/events.js';
import type { C2SSession } from '../../core/session.js';
import type { RegistrationGate } from '../registration.js';
import type { GuessCount } from './guard.js';
import type { InviteService } from './invites.js';
import type { Invite } from './invite-store.js';

/** XEP-0379's namespace of the preauth element. */
export const NS_PARS = 'urn:xmpp:pars:0';
/** XEP-0445's stream feature. */
const NS_IBR_TOKEN = 'urn:xmpp:ibr-token:0';
/** COMPAT: Conversations — the feature of XEP-0401's earlier versions, which Prosody offers too. */
const NS_INVITE_LEGACY = 'urn:xmpp:invite';
const INVITE_KEY = 'invite';
const GUESS_KEY = 'invite-guesses';

export default defineModule({
  name: 'invites_register',
  depends: ['invites', 'register'],
  setup(ctx) {
    const service = (): InviteService => {
      const s = ctx.items('invite-service')[0];
      if (!s) throw new StanzaError('service-unavailable', 'invitations are not enabled on this server');
      return s;
    };
    const requireEncryption = ctx.option.live.boolean('c2s_require_encryption', true);
    const invited = (session: C2SSession): Invite | undefined => session.data.get(INVITE_KEY) as Invite | undefined;

    ctx.hook('stream-features', ({ session, features }) => {
      if (session.state === 'negotiating' && (session.secure || !requireEncryption())) {
        features.append(x('register', { xmlns: NS_IBR_TOKEN }), x('register', { xmlns: NS_INVITE_LEGACY }));
        // COMPAT: Conversations — it registers with an invitation only where the XEP-0077 stream
        // feature is offered too, as Prosody offers it in its invitation-only setup
        // (allow_registration with registration_invite_only); without a token the
        // registration is refused all the same.
        if (!features.getChild('register', NS.REGISTER_FEATURE)) features.append(x('register', { xmlns: NS.REGISTER_FEATURE }));
      }
      return undefined;
    });

    ctx.hook('unauthenticated-stanza', ({ session, stanza }) => {
      const preauth = stanza.name === 'iq' ? stanza.getChild('preauth', NS_PARS) : undefined;
      if (!preauth) return undefined;
      if (stanza.attrs.type === 'result' || stanza.attrs.type === 'error') return true;
      const request = new Element('iq', { ...stanza.attrs });
      delete request.attrs.from;
      const answer = async (): Promise<void> => {
        if (stanza.attrs.type !== 'set') throw new StanzaError('bad-request', 'preauth is an iq of type set');
        if (requireEncryption() && !session.secure) throw new StanzaError('policy-violation', 'this server requires encryption: use STARTTLS first');
        let guesses = session.data.get(GUESS_KEY) as GuessCount | undefined;
        if (!guesses) session.data.set(GUESS_KEY, (guesses = { wrong: 0 }));
        const invite = await service().check(preauth.attrs.token ?? '', guesses);
        if (!invite.allowRegistration) throw new StanzaError('item-not-found', 'the invitation is invalid or expired', 'cancel');
        session.data.set(INVITE_KEY, invite);
      };
      // The token is not echoed in an error: it is a secret.
      return answer().then(
        () => { session.send(iqResult(request)); return true; },
        (err: unknown) => {
          const { error, unexpected } = stanzaErrorFor(err);
          if (unexpected) ctx.log.error({ err }, 'checking an invitation failed');
          session.send(errorReply(request, error) as Element);
          return true;
        },
      );
    });

    const gate: RegistrationGate = {
      admits: (session) => invited(session) !== undefined,
      async claim(session, username) {
        const invite = invited(session);
        return invite ? service().claim(invite, username) : undefined;
      },
    };
    ctx.provide('registration-gate', gate);

    ctx.hook('presence/bare', async (ev) => {
      const token = ev.stanza.attrs.type === 'subscribe' ? ev.stanza.getChild('preauth', NS_PARS)?.attrs.token : undefined;
      const user = ev.to?.local;
      const contact = ev.from?.bare().toString();
      if (token === undefined || !user || !contact) return undefined;
      let invite: Invite;
      try {
        invite = await service().check(token);
      } catch {
        return undefined; // an ordinary request, for the user to answer
      }
      if (invite.type !== 'roster' || invite.inviter !== user) return undefined;
      const rosters = ctx.items('roster-store')[0];
      if (!rosters) return undefined;
      const asks = await rosters.modify(user, contact, (r, tx) => {
        const item = r.items[contact] ?? { subscription: 'none' as const, groups: [] };
        const wants = item.subscription === 'none' || item.subscription === 'from';
        r.items[contact] = { ...item, approved: true, ...(wants ? { ask: true as const } : {}) };
        tx.bump();
        return wants;
      });
      await service().use(invite);
      ctx.log.info({ id: invite.id, user }, 'contact invitation used');
      // The presence module answers the request as pre-approved (after this handler), and the
      // user asks for the contact's presence in return: the goal is a mutual subscription.
      if (asks) void ctx.send(x('presence', { type: 'subscribe', from: `${user}@${ctx.host.name}`, to: contact }));
      return undefined;
    }, Priority.early);
  },
});
