// Invitations (Prosody's mod_invites): creating them, finding one by its token, using one up.
// The service other modules use (invites_adhoc, invites_register, the invitation page) is the
// item 'invite-service'. References: XEP-0401 (easy user onboarding), XEP-0379
// (pre-authenticated roster subscription), XEP-0445 (pre-authenticated registration).
//
// Single use is atomic: a registration claims its invitation synchronously (a set of claims in
// memory, this process being the only one that uses invitations up), so of two registrations
// with one token at the same instant exactly one gets it; a failed registration gives it back.
// A reusable invitation (administrators' `clove invite create --reusable`) is never used up; it
// registers accounts until it expires, within the host's registration_throttle budget.
import { defineModule } from '../../core/modules.js';
import type { ModuleContext } from '../../core/modules.js';
import { StanzaError } from '../../core/errors.js';
import { systemClock, type MamClock } from '../mam/expiry.js';
import { DEFAULT_MAX_PENDING, InviteLimitError, InviteStore, inviteUri, type Invite, type StoredInvite } from './invite-store.js';
import { GuessGuard, type GuessCount } from './guard.js';
import { INVITE_PATH, inviteLinks, type InviteLinks } from './links.js';
import { subscribeBoth } from './subscribe.js';
import type { RegistrationClaim } from '../registration.js';

/** What an invitation is for, as its creator asks. */
export interface InviteRequest {
  type: StoredInvite['type'];
  /** A JID or "clove invite". */
  creator: string;
  /** Contact invitations: the local user the invitee becomes a contact of. */
  inviter?: string;
  /** Account invitations: the only username it registers. */
  username?: string;
  allowRegistration: boolean;
  reusable?: boolean;
  /** Seconds until it expires (invite_expiry when absent). */
  ttl?: number;
}

/** Invitations of one host, for the modules that create and use them. */
export interface InviteService {
  /** Create and store an invitation; throws StanzaError past the bounds. */
  create(req: InviteRequest): Promise<Invite>;
  /** The xmpp: URI and, with HTTP, the page's URL to hand out. */
  links(invite: Invite): InviteLinks;
  /** The valid invitation a token names, through the guessing throttle (`conn`: the connection's count); throws StanzaError (item-not-found) for an unknown, used or expired one. */
  check(token: string, conn?: GuessCount): Promise<Invite>;
  /** Take a checked invitation for registering `username`; throws StanzaError when it is used meanwhile or is for another name. */
  claim(invite: Invite, username: string): Promise<RegistrationClaim>;
  /** Use up an invitation that did its work without registering an account (a contact's pre-authenticated subscription). */
  use(invite: Invite): Promise<void>;
}

declare module '../../core/items-map.js' {
  interface ItemMap {
    /** The host's invitations. Offered by invites; read by invites_adhoc, invites_register and the invitation page. */
    'invite-service': InviteService;
  }
}

/** How often expired invitations are deleted. */
const SWEEP_MS = 3_600_000;

/** The invites module on `clock` (tests move it; the shipped module uses the system clock). */
export function createInvites(clock: MamClock = systemClock): ReturnType<typeof defineModule> {
  return defineModule({
    name: 'invites',
    setup(ctx) {
      const expiry = ctx.option.get<number>('invite_expiry');
      const store = new InviteStore(ctx.store<StoredInvite>('invite_token', 'keyval'), () => clock.now(), ctx.option.number('invites_max_pending', DEFAULT_MAX_PENDING, { min: 1, integer: true }));
      const guard = new GuessGuard();
      const claimed = new Set<string>();
      const service = makeService(ctx, store, guard, claimed, clock, expiry);
      ctx.provide('invite-service', service);
      const stop = clock.every(SWEEP_MS, async () => {
        await store.pending().catch((err: unknown) => ctx.log.warn({ err }, 'sweeping expired invitations failed'));
      });
      return stop;
    },
  });
}

function makeService(ctx: ModuleContext, store: InviteStore, guard: GuessGuard, claimed: Set<string>, clock: MamClock, expiry: number): InviteService {
  const host = ctx.host.name;
  const used = async (invite: Invite): Promise<void> => {
    if (!invite.reusable) await store.delete(invite.id);
  };
  return {
    async create(req) {
      const ttl = req.ttl ?? expiry;
      const jid = req.type === 'roster' ? `${req.inviter ?? ''}@${host}` : req.username ? `${req.username}@${host}` : host;
      try {
        const invite = await store.create({
          type: req.type, jid, allowRegistration: req.allowRegistration, creator: req.creator,
          expires: clock.now() + Math.min(ttl, 10 * 365 * 86400) * 1000,
          ...(req.inviter ? { inviter: req.inviter } : {}),
          ...(req.reusable ? { reusable: true } : {}),
        });
        ctx.log.info({ id: invite.id, type: invite.type, creator: req.creator }, 'invitation created');
        return invite;
      } catch (err) {
        if (err instanceof InviteLimitError) throw new StanzaError('resource-constraint', err.message);
        throw err;
      }
    },
    links: (invite) => inviteLinks(ctx.host.config, host, invite, inviteUri(invite), ctx.items('http-route').some((r) => r.path === INVITE_PATH)),
    async check(token, conn) {
      guard.check(conn);
      const invite = await store.find(token);
      if (!invite) {
        guard.wrong(conn);
        throw new StanzaError('item-not-found', 'the invitation is invalid or expired', 'cancel');
      }
      return invite;
    },
    async claim(invite, username) {
      if (!invite.allowRegistration) throw new StanzaError('forbidden', 'this invitation does not create accounts');
      const reserved = invite.type === 'register' && invite.jid.includes('@') ? invite.jid.slice(0, invite.jid.indexOf('@')) : undefined;
      if (reserved !== undefined && reserved !== username) throw new StanzaError('not-allowed', `this invitation is for the username '${reserved}'`);
      const single = !invite.reusable;
      // Claimed before anything is awaited: a second registration with the same token sees the
      // claim, and one that comes after the first finished sees the record gone.
      if (single && claimed.has(invite.id)) throw new StanzaError('not-allowed', 'this invitation has been used');
      if (single) claimed.add(invite.id);
      let open = true;
      const release = (): void => {
        if (open && single) claimed.delete(invite.id);
        open = false;
      };
      // Expiry counts when the token was given (XEP-0445 §4), not now; a used or revoked one is gone.
      if (!(await store.exists(invite.id))) {
        release();
        throw new StanzaError('not-allowed', 'this invitation has been used');
      }
      return {
        release,
        async commit(newUser) {
          try {
            await used(invite);
            ctx.log.info({ id: invite.id, user: newUser }, 'invitation used');
            if (invite.inviter) await subscribeBoth(ctx, invite.inviter, newUser);
          } finally {
            release();
          }
        },
      };
    },
    use: used,
  };
}

export default createInvites();
