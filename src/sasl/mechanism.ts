// The contract between the stream layer and a SASL mechanism.
// References: RFC 6120 §6.5 (SASL failure conditions), RFC 4422 (SASL).

import { JidError, prepLocal, tryParseJid } from '../jid/jid.js';
import type { CredentialSource } from './credentials.js';

export type { CredentialSource, ScramCredential, ScramHash } from './credentials.js';

export type SaslFailureCondition =
  | 'aborted'
  | 'account-disabled'
  | 'credentials-expired'
  | 'encryption-required'
  | 'incorrect-encoding'
  | 'invalid-authzid'
  | 'invalid-mechanism'
  | 'malformed-request'
  | 'mechanism-too-weak'
  | 'not-authorized'
  | 'temporary-auth-failure';

/** A SASL <failure/>: the condition goes on the wire, the text is for the client's user. */
export class SaslFailure extends Error {
  override name = 'SaslFailure';
  constructor(
    readonly condition: SaslFailureCondition,
    readonly text?: string,
  ) {
    super(text ? `${condition}: ${text}` : condition);
  }
}

/** What to send next: a <challenge/>, or <success/> with optional additional data. */
export type SaslStep = { kind: 'challenge'; data: Buffer } | { kind: 'success'; username: string; data?: Buffer };

/**
 * One authentication exchange. The stream layer calls step() with the decoded <auth/>
 * initial response (an empty buffer when there was none) and then with each <response/>.
 * step() throws SaslFailure; any other error is a bug in the caller or the mechanism.
 */
export interface SaslSession {
  step(input: Buffer): Promise<SaslStep>;
}

/**
 * Paces password checks: a mechanism hands each verdict (a wrong or right guess for a prepared
 * username) to check(), which runs `verify` when the account's turn comes. Throws
 * SaslFailure('temporary-auth-failure') when the account is backing off for too long.
 */
export interface Attempts {
  check(username: string, verify: () => Promise<boolean>): Promise<boolean>;
}

/** No pacing: every check runs at once (unit tests, and sources that pace themselves). */
export const UNPACED: Attempts = { check: (_username, verify) => verify() };

/** A server-side mechanism; `username` in a success is a prepared localpart of `domain`. */
export interface SaslMechanism {
  readonly name: string;
  start(creds: CredentialSource, domain: string, attempts?: Attempts): SaslSession;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode UTF-8 strictly; malformed input is a malformed-request. */
export function decodeUtf8(data: Buffer): string {
  try {
    return utf8.decode(data);
  } catch {
    throw new SaslFailure('malformed-request', 'invalid UTF-8');
  }
}

/** Run a credential-store call; storage trouble becomes temporary-auth-failure, not a crash. */
export async function askStore<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const failure = new SaslFailure('temporary-auth-failure');
    failure.cause = e; // for the caller's log; never holds a password
    throw failure;
  }
}

/** Prepare a client-supplied username; one that cannot be a localpart is not-authorized. */
export function prepUsername(name: string): string {
  try {
    return prepLocal(name);
  } catch (e) {
    if (e instanceof JidError) throw new SaslFailure('not-authorized');
    throw e;
  }
}

/** An authorization identity, when given, must be the authenticating user's own bare JID. */
export function checkAuthzid(authzid: string, username: string, domain: string): void {
  if (authzid === '') return;
  const j = tryParseJid(authzid);
  if (!j || !j.isBare() || j.local !== username || j.domain !== tryParseJid(domain)?.domain) {
    throw new SaslFailure('invalid-authzid');
  }
}
