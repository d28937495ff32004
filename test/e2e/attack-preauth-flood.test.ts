// Attack 1 of issue 9: memory before login. After one <auth/> (whose PBKDF2 runs off the loop), a
// client pipelines stanzas made of empty elements, which a naive server parses into trees and
// queues while it waits (a 256 KiB stanza of `<a/>` is ~9 MiB of heap as a tree). Against a real
// child server, from 4 connections at once, ~30 MiB in all:
//   - two connections send 256 KiB stanzas of `<a/>` (over the per-stanza element cap);
//   - two send 16 KiB stanzas of 4,000 `<a/>` each (under the cap: only the one-element
//     read-ahead before authentication keeps them from piling up).
// The server's RSS (from /proc) may grow by less than 256 MiB (issue 9's threshold), and a
// client logged in beforehand still gets its ping answered.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { NS_SASL, NS_TLS, Wire, header, ping } from '../helpers/wire.js';

const MiB = 1024 * 1024;
const PER_CONNECTION = 7.5 * MiB;
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** A `<message>` of `count` empty elements. */
const stanzaOf = (count: number): string => `<message to='victim@localhost'>${'<a/>'.repeat(count)}</message>`;

const WRONG = `<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${b64('\0victim\0not-the-password')}</auth>`;

/** Connect and STARTTLS: a stream ready for SASL. */
async function secured(port: number): Promise<Wire> {
  const w = await Wire.connect(port);
  await w.write(header());
  await w.next((e) => e.name === 'stream:features', 'features');
  await w.write(`<starttls xmlns='${NS_TLS}'/>`);
  await w.next((e) => e.xmlns === NS_TLS, 'proceed');
  await w.upgradeTls();
  await w.write(header());
  await w.next((e) => e.name === 'stream:features', 'features after TLS');
  return w;
}

/** <auth/> with a wrong password followed at once by `stanza` repeated, unawaited. */
function flood(w: Wire, stanza: string): void {
  w.push(WRONG);
  for (let sent = 0; sent < PER_CONNECTION; sent += stanza.length) w.push(stanza);
}

describe('pre-authentication flood (issue 9, attack 1)', () => {
  let child: ChildServer;

  // A fresh server for each case, so neither inherits the other's heap.
  beforeEach(async () => {
    // The flood must reach the server as fast as it is sent: the read rate (`limits`) is tested
    // in attack-rate-limit.test.ts. bcrypt stays cheap; PLAIN checks PBKDF2 SCRAM keys.
    child = await startChild({ extra: 'limits = { c2s = { rate = "1gb/s" } }' });
    await addUsers(child.configPath, [['victim@localhost', 'victim-pass'], ['bystander@localhost', 'bystander-pass']]);
  });

  afterEach(async () => {
    if (child) {
      await child.kill('SIGTERM');
      await removeChildDir(child.dir);
    }
  });

  /** Run the flood from 4 connections with `stanza`; returns the RSS growth in bytes. */
  async function floodGrowth(stanza: string): Promise<number> {
    const bystander = await Wire.login({ port: child.port, username: 'bystander', password: 'bystander-pass', resource: 'b' });
    const baseline = await child.rss();
    let peak = baseline;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await child.rss().catch(() => 0));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const wires = await Promise.all([1, 2, 3, 4].map(() => secured(child.port)));
    for (const w of wires) flood(w, stanza);
    // Each flood ends with the stream closed by the server (an error before authentication).
    // Sampling goes on for a second after the close: what a server still parses then counts too.
    await Promise.all(wires.map((w) => w.until(() => w.isClosed || w.gotEnd, 'the server to close the flood', 30_000)));
    await new Promise((r) => setTimeout(r, 1000));
    sampling = false;
    await sampler;
    peak = Math.max(peak, await child.rss());
    for (const w of wires) {
      expect(w.received.some((e) => e.name === 'stream:error'), w.text.slice(-500)).toBe(true);
      w.destroy();
    }
    expect((await ping(bystander, 5000)).attrs.type).toBe('result');
    bystander.destroy();
    return peak - baseline;
  }

  it('256 KiB stanzas of <a/> (over the element cap) from 4 connections, ~30 MiB, grow RSS < 256 MiB', async () => {
    const growth = await floodGrowth(stanzaOf(Math.floor((256 * 1024 - 60) / 4))); // just under the size limit
    expect(growth, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(256 * MiB);
  }, 60_000);

  it('16 KiB stanzas of 4,000 <a/> (under the cap) from 4 connections, ~30 MiB, grow RSS < 64 MiB', async () => {
    // Only the one-element read-ahead before authentication bounds these: each tree is ~0.6 MiB.
    const growth = await floodGrowth(stanzaOf(4000));
    expect(growth, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`).toBeLessThan(64 * MiB);
  }, 60_000);
});
