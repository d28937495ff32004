// SASL PLAIN: authzid NUL authcid NUL password, checked against the credential source.
// The stream layer must offer it only on encrypted streams.
// References: RFC 4616, RFC 6120 §6.4.

import { askStore, checkAuthzid, decodeUtf8, prepUsername, SaslFailure, UNPACED, type Attempts, type SaslMechanism, type SaslSession, type SaslStep } from './mechanism.js';
import { saslPrep, type CredentialSource } from './credentials.js';

class PlainSession implements SaslSession {
  private state: 'start' | 'waiting' | 'done' = 'start';

  constructor(
    private readonly creds: CredentialSource,
    private readonly domain: string,
    private readonly attempts: Attempts,
  ) {}

  async step(input: Buffer): Promise<SaslStep> {
    if (this.state === 'done') throw new SaslFailure('malformed-request', 'exchange already finished');
    if (this.state === 'start' && input.length === 0) {
      // No initial response: ask for it with an empty challenge (RFC 6120 §6.4.2).
      this.state = 'waiting';
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    this.state = 'done';
    const parts = decodeUtf8(input).split('\0');
    if (parts.length !== 3) throw new SaslFailure('malformed-request');
    const [authzid, authcid, password] = parts as [string, string, string];
    if (authcid === '' || password === '') throw new SaslFailure('not-authorized');
    const username = prepUsername(authcid);
    checkAuthzid(authzid, username, this.domain);
    let prepared: string;
    try {
      prepared = saslPrep(password);
    } catch {
      throw new SaslFailure('not-authorized');
    }
    const ok = await this.attempts.check(username, () => askStore(() => this.creds.verifyPlain(username, prepared)));
    if (!ok) throw new SaslFailure('not-authorized');
    return { kind: 'success', username };
  }
}

export const PLAIN: SaslMechanism = {
  name: 'PLAIN',
  start: (creds, domain, attempts = UNPACED) => new PlainSession(creds, domain, attempts),
};
