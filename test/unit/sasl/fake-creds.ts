// An in-memory CredentialSource for mechanism tests.

import { deriveScram, saslPrep, verifyScramPassword, type CredentialSource, type ScramCredential } from '../../../src/sasl/credentials.js';

export class FakeCreds implements CredentialSource {
  readonly users = new Map<string, { sha1: ScramCredential; sha256: ScramCredential }>();
  failing = false;
  scramIterations = 4096;

  async add(user: string, password: string, iterations = 4096): Promise<this> {
    this.users.set(user, { sha1: await deriveScram(password, 'sha1', iterations), sha256: await deriveScram(password, 'sha256', iterations) });
    return this;
  }

  async getScram(user: string, hash: 'sha1' | 'sha256'): Promise<ScramCredential | undefined> {
    if (this.failing) throw new Error('disk on fire');
    return this.users.get(user)?.[hash];
  }

  async verifyPlain(user: string, password: string): Promise<boolean> {
    if (this.failing) throw new Error('disk on fire');
    const rec = this.users.get(user);
    return rec !== undefined && verifyScramPassword(rec.sha256, saslPrep(password), 'sha256');
  }
}
