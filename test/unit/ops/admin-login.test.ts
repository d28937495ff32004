// The status page's login: an admin's JID and password, checked through PLAIN and the guard.
import { describe, expect, it } from 'vitest';
import { adminLogin, type LoginDeps } from '../../../src/ops/admin-login.js';
import { Accounts, type AccountRecord } from '../../../src/storage/accounts.js';
import { createMemoryBackend } from '../../../src/storage/memory.js';
import { AuthGuard } from '../../../src/sasl/guard.js';
import type { Logger } from '../../../src/core/log.js';

const quiet = { info: () => undefined, warn: () => undefined, debug: () => undefined } as unknown as Logger;
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function deps(failureDelayMs = 0): Promise<{ deps: LoginDeps; failures: string[] }> {
  const accounts = new Accounts(createMemoryBackend().keyval<AccountRecord>('example.org', 'accounts'), { bcryptCost: 4 });
  await accounts.create('admin', 'right horse');
  await accounts.create('bob', 'bob password');
  const failures: string[] = [];
  const guard = new AuthGuard({ failureDelayMs, backoff: { firstDelayMs: 0, maxDelayMs: 0, maxWaitMs: 1000, maxEntries: 100, forgetMs: 60_000 } });
  return {
    failures,
    deps: {
      accounts: (host) => (host === 'example.org' ? accounts : undefined),
      isAdmin: (jid) => jid === 'admin@example.org',
      guard, log: quiet,
      failed: (c) => failures.push(c),
    },
  };
}

describe('adminLogin', () => {
  it('lets an admin in with the right password (the JID prepared: case does not matter)', async () => {
    const { deps: d, failures } = await deps();
    expect(await adminLogin(basic('Admin@Example.org', 'right horse'), d)).toEqual({ ok: true, jid: 'admin@example.org' });
    expect(failures).toEqual([]);
  });

  it('refuses a wrong password, a user who is not an admin, an unknown host, and says nothing more', async () => {
    const { deps: d, failures } = await deps();
    expect(await adminLogin(basic('admin@example.org', 'wrong'), d)).toEqual({ ok: false, why: 'refused' });
    expect(await adminLogin(basic('bob@example.org', 'bob password'), d)).toEqual({ ok: false, why: 'refused' });
    expect(await adminLogin(basic('admin@other.example', 'right horse'), d)).toEqual({ ok: false, why: 'refused' });
    expect(await adminLogin(basic('admin', 'right horse'), d)).toEqual({ ok: false, why: 'refused' });
    expect(failures).toEqual(['not-authorized', 'not-authorized', 'not-authorized', 'not-authorized']);
  });

  it('asks for a login when there is no Basic header', async () => {
    const { deps: d, failures } = await deps();
    expect(await adminLogin(undefined, d)).toEqual({ ok: false, why: 'missing' });
    expect(await adminLogin('Bearer abc', d)).toEqual({ ok: false, why: 'missing' });
    expect(failures).toEqual([]);
  });

  it("answers a failure only after the guard's delay", async () => {
    const { deps: d } = await deps(300);
    const t0 = Date.now();
    await adminLogin(basic('admin@example.org', 'wrong'), d);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });
});
