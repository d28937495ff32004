// Invitations as stored: a record per invitation in the host's `invite_token` keyval store,
// keyed by the token's public half. Shared by the server (module invites) and `clove invite`
// (src/cli/invite.ts), which writes to the same files; the file backend's read cache watches the
// store directory (or checks the file's inode, size and time), so the server sees what the command wrote.
// References: XEP-0401 (easy user onboarding), XEP-0379 (pre-authenticated roster
// subscription), XEP-0445 (pre-authenticated in-band registration).
//
// A token is 36 base64url characters: a 12-character id (the store key, so looking a token up
// reveals nothing about its secret) and a 24-character secret (144 random bits) of which only
// the SHA-256 is stored and which is compared in constant time. A stolen data directory gives no
// usable token.
//
// Bounds: at most `maxPending` invitations per host and MAX_PER_CREATOR per creator (expired
// ones are swept first); every field is bounded, so one record is at most a few KiB.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyValStore } from '../../storage/store.js';

/** 'register': an account invitation (XEP-0445); 'roster': a contact invitation of a local user (XEP-0379), which may allow registration. */
export type InviteType = 'register' | 'roster';

/** An invitation as stored. */
export interface StoredInvite {
  type: InviteType;
  /** SHA-256 of the secret half of the token, hex. */
  secret: string;
  /** The host (an account invitation for any name), user@host (an account invitation for that name), or the inviter's JID (contact). */
  jid: string;
  /** The local user whose contact the invitee becomes (contact invitations and `clove invite create --contact`). */
  inviter?: string;
  /** Whether the token creates an account (account invitations always; contact ones when the creator may invite new users). */
  allowRegistration: boolean;
  /** Several accounts may register with it until it expires (administrators only). */
  reusable?: boolean;
  /** Who made it, for the log and `clove invite list`: a JID or "clove invite". */
  creator: string;
  /** Milliseconds since the epoch. */
  created: number;
  expires: number;
}

/** An invitation found by its token, valid at the time asked. */
export interface Invite extends StoredInvite {
  /** The full token (the id and the secret), as the invitee gave it. */
  token: string;
  id: string;
}

/** Characters of a token's id and of its secret. */
const ID_CHARS = 12;
const SECRET_CHARS = 24;
/** Invitations one creator may have pending at once. */
export const MAX_PER_CREATOR = 50;
/** Invitations pending on a host when invites_max_pending is not set. */
export const DEFAULT_MAX_PENDING = 1000;
/** Longest JID or creator kept in a record (a JID is at most 3071 bytes). */
const MAX_FIELD = 3071;

const TOKEN_RE = new RegExp(`^[A-Za-z0-9_-]{${ID_CHARS + SECRET_CHARS}}$`);

/** Why an invitation cannot be created. */
export class InviteLimitError extends Error {
  override name = 'InviteLimitError';
}

const hash = (secret: string): Buffer => createHash('sha256').update(secret).digest();

/** Invitations of one host. `now` is the clock (tests move it). */
export class InviteStore {
  constructor(
    private readonly store: KeyValStore<StoredInvite>,
    private readonly now: () => number,
    private readonly maxPending = DEFAULT_MAX_PENDING,
  ) {}

  /** Store a new invitation; resolves with it and its token. Throws InviteLimitError past a bound. */
  async create(fields: Omit<StoredInvite, 'secret' | 'created'>): Promise<Invite> {
    if (fields.jid.length > MAX_FIELD || fields.creator.length > MAX_FIELD || (fields.inviter?.length ?? 0) > MAX_FIELD) throw new InviteLimitError('an address is too long');
    const pending = await this.pending();
    if (pending.length >= this.maxPending) throw new InviteLimitError(`this server has ${pending.length} pending invitations (invites_max_pending); wait until some are used or expire`);
    if (pending.filter((i) => i.creator === fields.creator).length >= MAX_PER_CREATOR) throw new InviteLimitError(`you have ${MAX_PER_CREATOR} pending invitations already`);
    let id: string;
    do id = randomBytes(ID_CHARS * 3 / 4).toString('base64url');
    while ((await this.store.get(id)) !== undefined);
    const secret = randomBytes(SECRET_CHARS * 3 / 4).toString('base64url');
    const stored: StoredInvite = { ...fields, secret: hash(secret).toString('hex'), created: this.now() };
    await this.store.set(id, stored);
    return { ...stored, id, token: id + secret };
  }

  /** The invitation a token names, if it exists, its secret matches and it has not expired. */
  async find(token: string): Promise<Invite | undefined> {
    if (!TOKEN_RE.test(token)) return undefined;
    const id = token.slice(0, ID_CHARS);
    const stored = await this.store.get(id);
    if (!stored || typeof stored.secret !== 'string') return undefined;
    const want = Buffer.from(stored.secret, 'hex');
    // Constant time: how much of a guessed secret is right never shows in the time taken.
    if (want.length !== 32 || !timingSafeEqual(want, hash(token.slice(ID_CHARS)))) return undefined;
    if (stored.expires <= this.now()) return undefined;
    return { ...stored, id, token };
  }

  /** Whether the invitation with this id is still stored (not used or revoked), expired or not. */
  async exists(id: string): Promise<boolean> {
    return (await this.store.get(id)) !== undefined;
  }

  /** Delete an invitation (used, or revoked). */
  async delete(id: string): Promise<void> {
    await this.store.set(id, undefined);
  }

  /** Every pending invitation with its id (not its token, which is not stored); expired ones are deleted on the way. */
  async pending(): Promise<Array<StoredInvite & { id: string }>> {
    const out: Array<StoredInvite & { id: string }> = [];
    const now = this.now();
    for (const id of await this.store.users()) {
      const stored = await this.store.get(id);
      if (!stored) continue;
      if (!(stored.expires > now)) {
        await this.store.set(id, undefined);
        continue;
      }
      out.push({ ...stored, id });
    }
    return out;
  }
}

/** The XMPP URI of an invitation (XEP-0401 §5): `xmpp:host?register;preauth=…` or `xmpp:user@host?roster;preauth=…;ibr=y`. */
export function inviteUri(invite: Pick<Invite, 'type' | 'jid' | 'token' | 'allowRegistration'>): string {
  const jid = uriJid(invite.jid);
  if (invite.type === 'register') return `xmpp:${jid}?register;preauth=${invite.token}`;
  return `xmpp:${jid}?roster;preauth=${invite.token}${invite.allowRegistration ? ';ibr=y' : ''}`;
}

/** A JID as the path of an xmpp: URI (RFC 5122 §2.3): the localpart percent-encoded, the domain as it is. */
function uriJid(jid: string): string {
  const at = jid.indexOf('@');
  return at < 0 ? jid : `${encodeURIComponent(jid.slice(0, at))}@${jid.slice(at + 1)}`;
}
