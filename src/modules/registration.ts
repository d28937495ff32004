// What account creation by registration offers other modules, and what it asks of them:
// the register module offers the registrar (the rules every registration follows, whatever the
// way in: in-band, the invitation web page); invites_register offers the gate (an invitation
// lets a client register while allow_registration is off, and is used up by it).
// References: XEP-0077 (in-band registration), XEP-0445 (pre-authenticated registration).
import type { C2SSession } from '../core/session.js';

/** What an invitation does once the account it allowed exists, or when creating it failed. */
export interface RegistrationClaim {
  /** The account `username` was created: use up the invitation, subscribe the inviter. */
  commit(username: string): Promise<void>;
  /** The account was not created: the invitation may be used again. */
  release(): void;
}

/** Invitations as the register module sees them (offered by invites_register). */
export interface RegistrationGate {
  /** True when the session gave a valid invitation (XEP-0445 preauth): it may register even with registration closed. */
  admits(session: C2SSession): boolean;
  /** Take the session's invitation for `username` (prepared): undefined without one; throws StanzaError when it cannot be used for that name or was used meanwhile. */
  claim(session: C2SSession, username: string): Promise<RegistrationClaim | undefined>;
}

/** Creates accounts under the host's registration rules (offered by register). */
export interface AccountRegistrar {
  /**
   * Check the username and password (throwing StanzaError as XEP-0077 says), refuse taken names
   * and take the host's registration budget, call `claim` with the prepared name (it may throw),
   * create the account, then commit the claim and fire user-created. Resolves with the username.
   */
  register(username: string | undefined, password: string | undefined, claim?: (username: string) => Promise<RegistrationClaim | undefined>): Promise<string>;
}

declare module '../core/items-map.js' {
  interface ItemMap {
    /** Invitations that open registration (XEP-0445). Offered by invites_register, read by register. */
    'registration-gate': RegistrationGate;
    /** Account creation under the registration rules. Offered by register, read by the invitation page. */
    'account-registrar': AccountRegistrar;
  }
}
