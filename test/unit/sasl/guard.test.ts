import { describe, expect, it } from 'vitest';
import { AuthGuard } from '../../../src/sasl/guard.js';
import { SaslFailure } from '../../../src/sasl/mechanism.js';
import type { Logger } from '../../../src/core/log.js';

function recorder(): { log: Logger; lines: Array<{ level: string; fields: Record<string, unknown>; msg: string }> } {
  const lines: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string): void => void lines.push({ level, fields, msg });
  return { lines, log: { info: at('info'), warn: at('warn') } as unknown as Logger };
}

const guard = (logPerMinute = 30): AuthGuard => new AuthGuard({
  failureDelayMs: 0,
  logPerMinute,
  backoff: { firstDelayMs: 300, maxDelayMs: 300, maxWaitMs: 50, maxEntries: 100, forgetMs: 60_000 },
});

describe('AuthGuard', () => {
  it('logs a wrong guess with the user, and refuses a throttled one as temporary-auth-failure', async () => {
    const { log, lines } = recorder();
    const attempts = guard().forConnection({ host: 'localhost', log, state: 'negotiating' });
    expect(await attempts.check('alice', async () => false)).toBe(false);
    const e = await attempts.check('alice', async () => true).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SaslFailure);
    expect((e as SaslFailure).condition).toBe('temporary-auth-failure');
    expect(lines.map((l) => [l.msg, l.fields.user, l.fields.failures])).toEqual([
      ['authentication failed', 'alice', 1],
      ['authentication throttled for this account', 'alice', 1],
    ]);
  });

  it('keeps hosts apart', async () => {
    const { log } = recorder();
    const g = guard();
    expect(await g.forConnection({ host: 'a.example', log, state: 'negotiating' }).check('alice', async () => false)).toBe(false);
    expect(await g.forConnection({ host: 'b.example', log, state: 'negotiating' }).check('alice', async () => true)).toBe(true);
  });

  it('rate-limits its log lines and counts the ones it left out', async () => {
    const { log, lines } = recorder();
    const attempts = guard(3).forConnection({ host: 'localhost', log, state: 'negotiating' });
    for (let i = 0; i < 10; i++) await attempts.check(`user${i}`, async () => false);
    expect(lines).toHaveLength(3);
  });
});
