// The status page's login: HTTP Basic with an `admins` JID and that account's password, checked
// as a SASL PLAIN exchange so it shares the guessing defences of client logins (per-account
// pacing, the fixed failure delay, the failure log; src/sasl/guard.ts). Any failure, a wrong
// password or an account that is not an admin, gets the same answer.
// References: RFC 7617 (Basic), RFC 4616 (PLAIN).
import { PLAIN } from '../sasl/plain.js';
import { SaslFailure, type CredentialSource } from '../sasl/mechanism.js';
import type { AuthGuard } from '../sasl/guard.js';
import type { Logger } from '../core/log.js';

/** What the login needs of the server: hosts with accounts, the admins, the guard. */
export interface LoginDeps {
  /** The accounts of a local VirtualHost, undefined for anything else. */
  accounts(host: string): CredentialSource | undefined;
  /** Whether the bare JID is in `admins` (global or the host's). */
  isAdmin(bareJid: string): boolean;
  guard: AuthGuard | undefined;
  log: Logger;
  /** Told each failure (the auth failures metric), with the condition. */
  failed?(condition: string): void;
}

/** The outcome: the admin's bare JID, or why not. */
export type LoginResult = { ok: true; jid: string } | { ok: false; why: 'missing' | 'refused' };

/** Check an Authorization header; failures are answered only after the guard's delay. */
export async function adminLogin(header: string | undefined, deps: LoginDeps): Promise<LoginResult> {
  const m = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header ?? '');
  if (!m) return { ok: false, why: 'missing' };
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const jid = colon < 0 ? '' : decoded.slice(0, colon);
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  const at = jid.lastIndexOf('@');
  const local = jid.slice(0, at);
  const host = jid.slice(at + 1).toLowerCase();
  const creds = at > 0 ? deps.accounts(host) : undefined;
  let condition = 'not-authorized';
  if (creds && password !== '') {
    // The connection as the guard sees it: one request, open until answered.
    const conn = { host, log: deps.log, state: 'open' };
    try {
      const step = await PLAIN.start(creds, host, deps.guard?.forConnection(conn)).step(Buffer.from(`\0${local}\0${password}`, 'utf8'));
      if (step.kind === 'success') {
        const bare = `${step.username}@${host}`;
        if (deps.isAdmin(bare)) return { ok: true, jid: bare };
        deps.log.warn({ jid: bare }, 'status page: a login by an account that is not an admin');
      }
    } catch (err) {
      if (!(err instanceof SaslFailure)) throw err;
      condition = err.condition;
    }
  }
  deps.failed?.(condition);
  await deps.guard?.delayFailure();
  return { ok: false, why: 'refused' };
}
