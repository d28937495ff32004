// The mechanisms hand every verdict to the pacing (Attempts): wrong guesses for one account,
// known or not, are spaced; a guess that cannot wait its turn is temporary-auth-failure.
import { describe, expect, it } from 'vitest';
import { AuthGuard } from '../../../src/sasl/guard.js';
import type { Attempts, SaslMechanism } from '../../../src/sasl/mechanism.js';
import { PLAIN } from '../../../src/sasl/plain.js';
import { SCRAM_SHA_1 } from '../../../src/sasl/scram.js';
import { silentLogger } from '../../../src/core/log.js';
import { FakeCreds } from './fake-creds.js';
import { failure } from './failure.js';
import { ScramClient } from './scram-client.js';

function paced(): Attempts {
  const guard = new AuthGuard({
    failureDelayMs: 0,
    backoff: { firstDelayMs: 5000, maxDelayMs: 5000, maxWaitMs: 50, maxEntries: 100, forgetMs: 60_000 },
  });
  return guard.forConnection({ host: 'localhost', log: silentLogger(), state: 'negotiating' });
}

async function plain(creds: FakeCreds, attempts: Attempts, user: string, password: string): Promise<string> {
  return failure(PLAIN.start(creds, 'localhost', attempts).step(Buffer.from(`\0${user}\0${password}`)));
}

async function scram(mech: SaslMechanism, creds: FakeCreds, attempts: Attempts, user: string, password: string): Promise<string> {
  const s = mech.start(creds, 'localhost', attempts);
  const c = new ScramClient('sha1', user, password, 'clientnonce');
  const first = await s.step(Buffer.from(c.first()));
  if (first.kind !== 'challenge') throw new Error('expected a challenge');
  return failure(s.step(Buffer.from(c.final(first.data.toString()))));
}

describe('paced mechanisms', () => {
  it('PLAIN: a second guess for the same account right after a wrong one is not checked', async () => {
    const creds = await new FakeCreds().add('juliet', 'r0m30');
    const attempts = paced();
    expect(await plain(creds, attempts, 'juliet', 'wrong')).toBe('not-authorized');
    expect(await plain(creds, attempts, 'juliet', 'r0m30')).toBe('temporary-auth-failure');
    expect(await plain(creds, attempts, 'romeo', 'wrong')).toBe('not-authorized'); // another account
  });

  it('SCRAM: the proof is paced the same way, for unknown users too', async () => {
    const creds = await new FakeCreds().add('juliet', 'r0m30');
    const attempts = paced();
    expect(await scram(SCRAM_SHA_1, creds, attempts, 'juliet', 'wrong')).toBe('not-authorized');
    expect(await scram(SCRAM_SHA_1, creds, attempts, 'juliet', 'r0m30')).toBe('temporary-auth-failure');
    expect(await scram(SCRAM_SHA_1, creds, attempts, 'nobody', 'x')).toBe('not-authorized');
    expect(await scram(SCRAM_SHA_1, creds, attempts, 'nobody', 'x')).toBe('temporary-auth-failure');
  });

  it('PLAIN and SCRAM share one account\'s pacing', async () => {
    const creds = await new FakeCreds().add('juliet', 'r0m30');
    const attempts = paced();
    expect(await plain(creds, attempts, 'juliet', 'wrong')).toBe('not-authorized');
    expect(await scram(SCRAM_SHA_1, creds, attempts, 'juliet', 'r0m30')).toBe('temporary-auth-failure');
  });
});
