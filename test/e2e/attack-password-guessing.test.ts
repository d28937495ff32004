// Attack 3 of issue 9: password guessing from loopback, where every client is 127.0.0.1.
// A real server process (dist/, default options) and real TLS connections:
// - 20 parallel connections guessing one account for 20 s get at most 60 answered wrong
//   guesses (not-authorized) in total, and the real user logs in within 10 s after they stop;
// - a flood over many (unknown) usernames does not hold up another user's logins;
// - every failure waits the fixed delay, and the log names the user, never the password;
// - SCRAM's fake salt for an unknown user survives a restart, from a 0600 secret in data_path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Wire } from '../helpers/wire.js';

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const PASSWORD = 'correct horse battery staple';
const WRONG = 'Tr0ub4dor&3-wrong';
const FLOOD_MS = 20_000;
const CONNECTIONS = 20;

let child: ChildServer;

beforeAll(async () => {
  child = await startChild();
  await addUsers(child.configPath, [['alice@localhost', PASSWORD], ['bob@localhost', PASSWORD]]);
}, 60_000);

afterAll(async () => {
  if (!child) return;
  await child.kill('SIGKILL');
  await removeChildDir(child.dir);
});

type Answer = 'success' | string;

/** Connect and STARTTLS: a stream ready for <auth/>. */
async function secureStream(port: number): Promise<Wire> {
  const c = await Wire.open({ port, timeoutMs: 30_000 });
  await c.startTls();
  return c;
}

/** One PLAIN attempt on `c`: 'success' or the failure condition. */
async function plain(c: Wire, user: string, password: string): Promise<Answer> {
  c.send(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
  const el = await c.waitFor((e) => e.xmlns === NS_SASL && (e.name === 'success' || e.name === 'failure'));
  if (el.name === 'success') return 'success';
  return el.elements().find((e) => e.name !== 'text')?.name ?? 'failure';
}

interface Tally { answers: Map<string, number>; connections: number }

/**
 * `n` connections guessing `userOf()` with a wrong password, reconnecting when closed; at
 * `until` the flood stops: every attacking connection goes, whatever it was waiting for.
 */
function flood(port: number, n: number, until: number, userOf: () => string): Promise<Tally> {
  const tally: Tally = { answers: new Map(), connections: 0 };
  const open = new Set<Wire>();
  const stop = setTimeout(() => { for (const c of open) c.destroy(); }, until - Date.now());
  const worker = async (): Promise<void> => {
    while (Date.now() < until) {
      let c: Wire;
      try {
        c = await secureStream(port);
      } catch {
        continue; // refused or reset under load: try again
      }
      if (Date.now() >= until) {
        c.destroy();
        break;
      }
      tally.connections++;
      open.add(c);
      try {
        while (Date.now() < until && !c.closed) {
          const a = await plain(c, userOf(), WRONG);
          if (Date.now() <= until) tally.answers.set(a, (tally.answers.get(a) ?? 0) + 1);
        }
      } catch {
        // the server closed the stream (too many failures) or the flood was stopped
      } finally {
        open.delete(c);
        c.destroy();
      }
    }
  };
  return Promise.all(Array.from({ length: n }, worker)).then(() => {
    clearTimeout(stop);
    return tally;
  });
}

/** Log in as `user` (retrying on temporary-auth-failure); resolves with the ms it took. */
async function loginWithin(port: number, user: string, deadlineMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const c = await secureStream(port);
    try {
      const a = await plain(c, user, PASSWORD);
      if (a === 'success') return Date.now() - t0;
      if (a !== 'temporary-auth-failure') throw new Error(`the right password got ${a}`);
    } finally {
      c.destroy();
    }
    if (Date.now() - t0 > deadlineMs) throw new Error(`${user} could not log in within ${deadlineMs} ms`);
  }
}

describe('password guessing from loopback (issue 9, attack 3)', () => {
  it('every failure waits the fixed delay, and the log has the user and connection but never the password', async () => {
    const user = `carol-${randomBytes(4).toString('hex')}`; // no failures yet: no per-account delay
    const secret = `pw-${randomBytes(8).toString('hex')}`;
    const c = await secureStream(child.port);
    const t0 = Date.now();
    expect(await plain(c, user, secret)).toBe('not-authorized');
    const took = Date.now() - t0;
    c.destroy();
    expect(took).toBeGreaterThanOrEqual(900); // auth_failure_delay = 1 s by default
    // Runs first: the floods below fill the failure log's rate limit.
    const line = await child.waitForLog((l) => l.msg === 'authentication failed' && l.user === user);
    expect(typeof line.c2s).toBe('string'); // the connection id
    const err = child.stderr();
    expect(err).not.toContain(secret);
    expect(err).not.toContain(Buffer.from(`\0${user}\0${secret}`).toString('base64'));
  }, 30_000);

  it('20 connections guessing one account for 20 s get at most 60 wrong answers; the real user gets in within 10 s after', async () => {
    const tally = await flood(child.port, CONNECTIONS, Date.now() + FLOOD_MS, () => 'alice');
    const wrong = tally.answers.get('not-authorized') ?? 0;
    console.log(`guessing flood: ${JSON.stringify(Object.fromEntries(tally.answers))} over ${tally.connections} connections in ${FLOOD_MS / 1000} s`);
    expect(tally.answers.get('success') ?? 0).toBe(0);
    expect(wrong).toBeGreaterThan(0); // the flood did reach the password check
    expect(wrong).toBeLessThanOrEqual(60);
    const took = await loginWithin(child.port, 'alice', 10_000);
    console.log(`alice logged in ${took} ms after the flood stopped`);
    expect(took).toBeLessThanOrEqual(10_000);
  }, 90_000);

  it('a flood over many usernames does not hold up another user\'s logins', async () => {
    const until = Date.now() + 6000;
    const flooding = flood(child.port, CONNECTIONS, until, () => `nobody-${randomBytes(6).toString('hex')}`);
    await new Promise((r) => setTimeout(r, 1000));
    const times: number[] = [];
    while (Date.now() < until - 500) times.push(await loginWithin(child.port, 'bob', 5000));
    const tally = await flooding;
    console.log(`many-user flood: ${JSON.stringify(Object.fromEntries(tally.answers))}; bob's logins took ${times.join(', ')} ms`);
    expect(tally.answers.get('not-authorized') ?? 0).toBeGreaterThan(CONNECTIONS); // checks did run
    expect(times.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...times)).toBeLessThan(3000);
  }, 60_000);

  it('SCRAM gives an unknown user the same salt after a restart; the secret file is 0600', async () => {
    const first = `n,,n=nobody-here,r=${randomBytes(12).toString('base64')}`;
    const salt = async (port: number): Promise<string> => {
      const c = await secureStream(port);
      c.send(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-1'>${Buffer.from(first).toString('base64')}</auth>`);
      const ch = await c.waitFor((e) => e.xmlns === NS_SASL && e.name === 'challenge');
      c.destroy();
      return /,s=([^,]+),i=(\d+)/.exec(Buffer.from(ch.text(), 'base64').toString())!.slice(1).join(' ');
    };
    const before = await salt(child.port);
    await child.kill('SIGTERM');
    child = await startChild({ dir: child.dir });
    expect(await salt(child.port)).toBe(before);
    expect((await stat(join(child.dataPath, 'server-secret'))).mode & 0o777).toBe(0o600);
  }, 60_000);
});
