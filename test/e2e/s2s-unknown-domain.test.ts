// Domains nobody serves, through the SOCKS5 test proxy (i2pd's stand-in, which records every name
// it is asked for): a subdomain of our own b32 name that is not configured bounces at once without
// any dial (it would be dialled as our own b32 name, reaching this very server), and a peer's
// `host-unknown` before the stream is up bounces what waits at once instead of retrying until
// s2s_send_deadline (default 60 s; the first retry alone would come after 5 s).
// References: RFC 6120 §4.9.3.6 (host-unknown), §8.3.3.16 (remote-server-not-found); docs/i2p.md.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wire, match, stanzaErrorCondition } from '../helpers/wire.js';
import { startFederation, type Federation } from '../helpers/federation.js';
import { NS } from '../../src/xml/ns.js';

const A = 'p'.repeat(52) + '.b32.i2p';
const B = 'q'.repeat(52) + '.b32.i2p';
/** Well under the first retry (5 s) and the send deadline (60 s): a bounce in this time came at once. */
const AT_ONCE_MS = 4000;

let fed: Federation;
let alice: Wire;

beforeAll(async () => {
  fed = await startFederation(A, B);
  await fed.a.addUser('alice', 'alice-pw');
  alice = await Wire.login({ port: fed.a.port, domain: A, username: 'alice', password: 'alice-pw', resource: 'r', timeoutMs: 15_000 });
}, 30_000);

afterAll(async () => {
  await alice?.close();
  await fed?.stop();
});

/** Send a disco#info iq to `to` and return how long its error took, and its condition. */
async function askAndTime(to: string): Promise<{ ms: number; condition: string | undefined; from: string | undefined }> {
  const started = Date.now();
  const id = `u-${Math.random().toString(36).slice(2)}`;
  alice.send(`<iq type='get' id='${id}' to='${to}'><query xmlns='${NS.DISCO_INFO}'/></iq>`);
  const reply = await alice.waitFor(match('iq', { id, type: 'error' }), AT_ONCE_MS);
  return { ms: Date.now() - started, condition: stanzaErrorCondition(reply), from: reply.attrs.from };
}

describe('domains nobody serves', () => {
  it('an unconfigured subdomain of our own b32 name bounces remote-server-not-found at once, with no dial', async () => {
    const before = fed.proxy.requested.length;
    const got = await askAndTime(`nothere.${A}`);
    expect([got.condition, got.from]).toEqual(['remote-server-not-found', `nothere.${A}`]);
    expect(got.ms).toBeLessThan(AT_ONCE_MS);
    // i2pd was never asked for anything: Clove did not dial itself.
    expect(fed.proxy.requested.slice(before)).toEqual([]);
  });

  it('a peer\'s host-unknown before the stream is up bounces what waits at once, without retrying', async () => {
    const before = fed.proxy.requested.length;
    const got = await askAndTime(`nothere.${B}`);
    expect(got.condition).toBe('remote-server-not-found');
    expect(got.ms).toBeLessThan(AT_ONCE_MS);
    // Dialled once, as B's b32 name (i2pd cannot resolve the subdomain), and never again.
    await new Promise((r) => setTimeout(r, 500));
    expect(fed.proxy.requested.slice(before)).toEqual([B]);
  });
});
