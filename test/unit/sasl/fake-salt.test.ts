import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fakeScram } from '../../../src/sasl/fake-salt.js';
import { createScram } from '../../../src/sasl/scram.js';
import { FakeCreds } from './fake-creds.js';

async function saltOf(creds: FakeCreds, user: string): Promise<string> {
  const r = await createScram('sha256').start(creds, 'localhost').step(Buffer.from(`n,,n=${user},r=abcdef`));
  if (r.kind !== 'challenge') throw new Error('expected a challenge');
  return /,s=([^,]+),i=(\d+)/.exec(r.data.toString())!.slice(1).join(' ');
}

describe('fake SCRAM salts for unknown users', () => {
  it('depend only on the key, the hash and the name', () => {
    const key = randomBytes(32);
    const a = fakeScram(key, 'nobody', 'sha1', 4096);
    expect(fakeScram(Buffer.from(key), 'nobody', 'sha1', 4096).salt).toBe(a.salt);
    expect(fakeScram(key, 'nobody2', 'sha1', 4096).salt).not.toBe(a.salt);
    expect(fakeScram(key, 'nobody', 'sha256', 4096).salt).not.toBe(a.salt);
    expect(fakeScram(randomBytes(32), 'nobody', 'sha1', 4096).salt).not.toBe(a.salt);
    expect(Buffer.from(a.salt, 'base64')).toHaveLength(16); // as long as a real salt
    expect(a.iterations).toBe(4096);
  });

  it('come from the credential source\'s key, so a new process with the same key gives the same salt', async () => {
    const key = randomBytes(32);
    const one = Object.assign(new FakeCreds(), { fakeSaltKey: key });
    const two = Object.assign(new FakeCreds(), { fakeSaltKey: Buffer.from(key) });
    const s = await saltOf(one, 'nobody');
    expect(await saltOf(one, 'nobody')).toBe(s);
    expect(await saltOf(two, 'nobody')).toBe(s);
    expect(s.endsWith(' 4096')).toBe(true); // the source's iteration count, as a new account's
    expect(await saltOf(Object.assign(new FakeCreds(), { fakeSaltKey: randomBytes(32) }), 'nobody')).not.toBe(s);
  });
});
