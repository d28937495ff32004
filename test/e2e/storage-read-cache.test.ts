// The file backend's read cache seen from outside (issue 15): a real server (dist/) answers
// logins from its cache, and the account commands, run as separate processes while it runs, are
// seen at once: `clove passwd` (the old password refused, the new one accepted), `clove adduser`
// of a name whose failed login was cached as "no such file", and `clove deluser`. Both SASL
// mechanisms read the account record. Children listen on 127.0.0.1 port 0 and are killed by PID.
import { afterAll, describe, expect, it } from 'vitest';
import { removeChildDir, runClove, startChild, type ChildServer } from '../helpers/child-server.js';
import { Wire } from '../helpers/wire.js';

let child: ChildServer | undefined;

afterAll(async () => {
  if (!child) return;
  await child.kill('SIGKILL');
  await removeChildDir(child.dir);
});

type Mechanism = 'PLAIN' | 'SCRAM-SHA-1';

const canLogin = (port: number, username: string, password: string, mechanism: Mechanism): Promise<boolean> =>
  Wire.login({ port, username, password, mechanism, resource: 'r' }).then(
    async (c) => {
      await c.close();
      return true;
    },
    () => false,
  );

/** The login result for each mechanism, twice in a row (the second one is answered from the cache). */
async function logins(port: number, username: string, password: string): Promise<boolean[]> {
  const out: boolean[] = [];
  for (const m of ['PLAIN', 'SCRAM-SHA-1', 'PLAIN', 'SCRAM-SHA-1'] as const) out.push(await canLogin(port, username, password, m));
  return out;
}

describe('file storage read cache and the account commands of another process', () => {
  it('passwd, adduser (after a failed login of that name) and deluser are seen by the running server at once', async () => {
    // No failure delay or per-account pause: this test fails logins on purpose and wants them quick.
    const s = (child = await startChild({ extra: 'auth_failure_delay = 0\nauth_throttle_delay = 0.01\nauth_throttle_max_delay = 0.01' }));
    const cli = async (args: string[], input = ''): Promise<void> => {
      const r = await runClove(['--config', s.configPath, ...args], input);
      expect(r.code, r.stderr).toBe(0);
    };

    // Before any account exists: no accounts directory yet (the server watches its parent).
    expect(await logins(s.port, 'carol', 'carol-pass')).toEqual([false, false, false, false]);
    await cli(['adduser', 'alice@localhost', '--password-stdin'], 'first-pass\n');
    expect(await logins(s.port, 'alice', 'first-pass')).toEqual([true, true, true, true]);

    await cli(['passwd', 'alice@localhost', '--password-stdin'], 'second-pass\n');
    expect(await logins(s.port, 'alice', 'first-pass')).toEqual([false, false, false, false]);
    expect(await logins(s.port, 'alice', 'second-pass')).toEqual([true, true, true, true]);

    // A failed login of a name with no account: the server now knows the file is missing.
    expect(await logins(s.port, 'dave', 'dave-pass')).toEqual([false, false, false, false]);
    await cli(['adduser', 'dave@localhost', '--password-stdin'], 'dave-pass\n');
    expect(await logins(s.port, 'dave', 'dave-pass')).toEqual([true, true, true, true]);
    await cli(['adduser', 'carol@localhost', '--password-stdin'], 'carol-pass\n');
    expect(await logins(s.port, 'carol', 'carol-pass')).toEqual([true, true, true, true]);

    await cli(['deluser', 'alice@localhost']);
    expect(await logins(s.port, 'alice', 'second-pass')).toEqual([false, false, false, false]);
    expect(await logins(s.port, 'dave', 'dave-pass')).toEqual([true, true, true, true]);
  }, 60_000);
});
