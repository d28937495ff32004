// Affiliations and roles of a room and who may change them: the rank order of XEP-0045 §5, the
// default role each affiliation gets on entering, and the permission rules of the admin use
// cases (§8 moderator, §9 admin, §10 owner), kept pure so the unit tests read like the XEP.
// References: XEP-0045 §5.1 (roles), §5.2 (affiliations), §8.2–§8.5, §9.1–§9.8, §10.3–§10.7.
import { StanzaError } from '../../core/errors.js';

export type Affiliation = 'owner' | 'admin' | 'member' | 'none' | 'outcast';
export type Role = 'moderator' | 'participant' | 'visitor' | 'none';

export const AFFILIATIONS: readonly Affiliation[] = ['owner', 'admin', 'member', 'none', 'outcast'];
export const ROLES: readonly Role[] = ['moderator', 'participant', 'visitor', 'none'];

const AFF_RANK: Record<Affiliation, number> = { outcast: -1, none: 0, member: 1, admin: 2, owner: 3 };
const ROLE_RANK: Record<Role, number> = { none: 0, visitor: 1, participant: 2, moderator: 3 };

/** Affiliation comparison: positive when `a` outranks `b`. */
export const affRank = (a: Affiliation): number => AFF_RANK[a];
/** Role comparison rank. */
export const roleRank = (r: Role): number => ROLE_RANK[r];

/** A value named in a request, or bad-request. */
export function parseAffiliation(s: string | undefined): Affiliation {
  if (s !== undefined && (AFFILIATIONS as readonly string[]).includes(s)) return s as Affiliation;
  throw new StanzaError('bad-request', `affiliation must be one of ${AFFILIATIONS.join(', ')}`);
}

/** A role named in a request, or bad-request. */
export function parseRole(s: string | undefined): Role {
  if (s !== undefined && (ROLES as readonly string[]).includes(s)) return s as Role;
  throw new StanzaError('bad-request', `role must be one of ${ROLES.join(', ')}`);
}

/** The role an occupant of this affiliation gets on entering (§5.1.2 table, as Prosody). */
export function defaultRole(aff: Affiliation, moderated: boolean, membersOnly: boolean): Role {
  if (aff === 'owner' || aff === 'admin') return 'moderator';
  if (aff === 'member') return 'participant';
  if (aff === 'outcast') return 'none';
  if (membersOnly) return 'none';
  return moderated ? 'visitor' : 'participant';
}

/**
 * May an occupant with (actorAff, actorRole) give a target with (targetAff, targetRole) the
 * role `to`? §8.4–§8.5 and §9.6–§9.7: moderators kick and grant or revoke voice; only admins
 * and owners grant or revoke moderator; nobody changes the role of someone of higher
 * affiliation, and a moderator who is only a member or none cannot touch an admin or owner.
 * Returns the error to send, or undefined when allowed.
 */
export function roleChangeError(actorAff: Affiliation, actorRole: Role, targetAff: Affiliation, targetRole: Role, to: Role): StanzaError | undefined {
  if (actorRole !== 'moderator') return new StanzaError('forbidden', 'only moderators change roles');
  if (to === 'moderator' || targetRole === 'moderator') {
    if (affRank(actorAff) < AFF_RANK.admin) return new StanzaError('not-allowed', 'only admins and owners grant or revoke moderator status');
  }
  if (affRank(targetAff) >= AFF_RANK.admin && to !== 'moderator') {
    // An admin or owner keeps moderator status while affiliated so (§9.7: "not-allowed").
    return new StanzaError('not-allowed', 'the role of an admin or owner cannot be lowered');
  }
  if (affRank(targetAff) > affRank(actorAff)) return new StanzaError('not-allowed', 'that occupant outranks you');
  return undefined;
}

/**
 * May `actor` set the affiliation of a JID now `from` to `to`? §9 (admins: member, none,
 * outcast of those below admin) and §10 (owners: everything). Returns the error, or undefined.
 */
export function affiliationChangeError(actor: Affiliation, from: Affiliation, to: Affiliation): StanzaError | undefined {
  if (actor === 'owner') return undefined;
  if (actor !== 'admin') return new StanzaError('forbidden', 'only admins and owners change affiliations');
  if (affRank(to) >= AFF_RANK.admin || affRank(from) >= AFF_RANK.admin) return new StanzaError('not-allowed', 'only owners grant, revoke or ban admins and owners');
  return undefined;
}

/**
 * May `actor` read the affiliation lists (§9.5 ban and member lists, §10.5 owners and admins)?
 * Admins and owners may; in a private room (members-only and non-anonymous, what Conversations
 * makes for a group chat) members may too, as in Prosody, so their clients can show who belongs.
 */
export function mayReadAffiliationList(actor: Affiliation, privateRoom: boolean): boolean {
  return affRank(actor) >= AFF_RANK.admin || (privateRoom && affRank(actor) >= AFF_RANK.member);
}
