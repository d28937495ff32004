// SASL negotiation on a client stream (RFC 6120 §6): <auth/>, <challenge/>/<response/>,
// <success/> or <failure/>, <abort/>. Mechanisms live in src/sasl/.
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { StreamError } from '../core/errors.js';
import { SaslFailure, type SaslMechanism, type SaslSession, type SaslFailureCondition } from '../sasl/mechanism.js';
import { PLAIN } from '../sasl/plain.js';
import { SCRAM_SHA_1, SCRAM_SHA_256 } from '../sasl/scram.js';
import type { C2SConnection } from './c2s.js';
import type { Logger } from '../core/log.js';

/** Strongest first; PLAIN only inside TLS (a password must never cross in the clear). */
const MECHANISMS: readonly SaslMechanism[] = [SCRAM_SHA_256, SCRAM_SHA_1, PLAIN];
/** Failed (or throttled) attempts allowed on one connection before it is closed. */
const MAX_FAILURES = 5;

export interface SaslState {
  session: SaslSession | undefined;
  failures: number;
  /** The mechanism of the exchange under way or last tried ('none' before one is chosen): the metrics' label. */
  mechanism: string;
}

/** What the mechanism choice needs to know about a host: its accounts and where to log. */
export interface SaslHost {
  readonly log: Logger;
  readonly accounts: { allHaveSha256(): boolean; sha1OnlyCount(): number | undefined; readonly ready: Promise<void> };
}

/**
 * Mechanism names to offer on a stream of `host`. SCRAM-SHA-256 only while every account of the
 * host has SCRAM-SHA-256 keys: accounts imported from Prosody have SCRAM-SHA-1 keys only, and
 * mechanisms are offered before the user is known, so a client choosing the strongest would fail
 * for them. Without it, the host offers what Prosody 0.12 offered them: SCRAM-SHA-1 and PLAIN.
 */
export function offeredMechanisms(secure: boolean, host?: SaslHost): string[] {
  if (host) noteSha1OnlyAccounts(host);
  const sha256 = host === undefined || host.accounts.allHaveSha256();
  return MECHANISMS.filter((m) => (secure || m !== PLAIN) && (sha256 || m !== SCRAM_SHA_256)).map((m) => m.name);
}

const noted = new WeakSet<object>();

/**
 * Log once per host (per Accounts instance) that SCRAM-SHA-256 is held back, and why. Called
 * on the host's first stream; idempotent, so the server's start-up may call it as well.
 */
export function noteSha1OnlyAccounts(host: SaslHost): void {
  if (noted.has(host.accounts)) return;
  noted.add(host.accounts);
  void host.accounts.ready.then(() => {
    const n = host.accounts.sha1OnlyCount();
    if (n === undefined) host.log.warn('could not read which accounts lack SCRAM-SHA-256 keys; offering SCRAM-SHA-1 and PLAIN');
    else if (n > 0) host.log.warn(`${n} imported accounts lack SCRAM-SHA-256 keys; offering SCRAM-SHA-1 and PLAIN until they log in with PLAIN or change password`);
  });
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decode(el: Element): Buffer {
  const text = el.text().replace(/\s+/g, '');
  if (text === '' || text === '=') return Buffer.alloc(0);
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw new SaslFailure('incorrect-encoding', 'the payload is not valid base64');
  return Buffer.from(text, 'base64');
}

const encode = (data: Buffer | undefined): string => (data === undefined ? '' : data.length === 0 ? '=' : data.toString('base64'));

/** Handle one element of the SASL namespace. */
export async function negotiateSasl(conn: C2SConnection, el: Element): Promise<void> {
  const state = (conn.sasl ??= { session: undefined, failures: 0, mechanism: 'none' });
  try {
    if (el.name === 'auth') {
      if (conn.opts.requireEncryption(conn.host) && !conn.secure) {
        throw new SaslFailure('encryption-required', 'start TLS before authenticating');
      }
      const mech = MECHANISMS.find((m) => m.name === el.attrs.mechanism);
      // Only a mechanism Clove knows becomes a label: the attribute is the client's to choose.
      state.mechanism = mech?.name ?? 'none';
      if (!mech || !offeredMechanisms(conn.secure, conn.hostObj).includes(mech.name)) {
        throw new SaslFailure('invalid-mechanism', `mechanism ${el.attrs.mechanism ?? '(none)'} is not offered`);
      }
      state.session = mech.start(conn.hostObj!.accounts, conn.host, conn.opts.auth?.forConnection(conn));
      return await step(conn, state, decode(el));
    }
    if (el.name === 'response') {
      if (!state.session) throw new SaslFailure('malformed-request', 'no authentication in progress');
      return await step(conn, state, decode(el));
    }
    if (el.name === 'abort') {
      state.session = undefined;
      throw new SaslFailure('aborted');
    }
    throw new StreamError('unsupported-stanza-type', `<${el.name}/> is not a SASL element`);
  } catch (err) {
    if (!(err instanceof SaslFailure)) throw err;
    await fail(conn, state, err.condition, err.text);
  }
}

async function step(conn: C2SConnection, state: SaslState, input: Buffer): Promise<void> {
  const result = await (state.session as SaslSession).step(input);
  if (conn.state === 'closed') return;
  if (result.kind === 'challenge') {
    conn.send(x('challenge', { xmlns: NS.SASL }, encode(result.data)));
    return;
  }
  state.session = undefined;
  conn.send(x('success', { xmlns: NS.SASL }, encode(result.data)));
  conn.authenticated(result.username);
}

/**
 * Answer with <failure/> after the guard's fixed delay (every failure gets it, so a guesser's
 * connection learns nothing faster than one answer per delay); the connection is closed after
 * MAX_FAILURES wrong or throttled attempts.
 */
async function fail(conn: C2SConnection, state: SaslState, condition: SaslFailureCondition, text?: string): Promise<void> {
  state.session = undefined;
  conn.opts.tally?.authFailure(state.mechanism, condition);
  await conn.opts.auth?.delayFailure();
  if (conn.state === 'closed') return;
  const failure = x('failure', { xmlns: NS.SASL }, x(condition));
  if (text) failure.append(x('text', { 'xml:lang': 'en' }, text));
  conn.send(failure);
  if (condition === 'not-authorized' || condition === 'temporary-auth-failure') {
    state.failures++;
    if (state.failures >= MAX_FAILURES) conn.close(new StreamError('policy-violation', 'too many failed authentication attempts'));
  }
}
