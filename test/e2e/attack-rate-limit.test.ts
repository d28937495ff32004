// Issue 9, attack 7 (the `limits` option, Prosody's mod_limits, was accepted and ignored): a
// client sending faster than its rate is read at about that rate. Against a real child server
// with limits = { c2s = { rate = "20kb/s"; burst = "1s" } }: a logged-in client writes ~120 kB of
// pings (padded with whitespace between stanzas, which counts as read bytes) at once; the last
// pong may only come after (120 kB − 20 kB of burst) / 20 kB/s ≈ 5 s, and not much later.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Wire, ping } from '../helpers/wire.js';

const RATE = 20_000;
const BURST_S = 1;
const PINGS = 100;
const PAD = ' '.repeat(1150);

describe('read rate limit (limits option)', () => {
  let child: ChildServer;

  beforeAll(async () => {
    child = await startChild({ extra: `limits = { c2s = { rate = "${RATE / 1000}kb/s"; burst = "${BURST_S}s" } }` });
    await addUsers(child.configPath, [['fast@localhost', 'fast-pass']]);
  });

  afterAll(async () => {
    if (child) {
      await child.kill('SIGTERM');
      await removeChildDir(child.dir);
    }
  });

  it('a client writing faster than the rate is read at about the rate', async () => {
    const w = await Wire.login({ port: child.port, username: 'fast', password: 'fast-pass' });
    // Let the bucket refill after the login's own bytes.
    await new Promise((r) => setTimeout(r, BURST_S * 1000));
    let data = '';
    for (let i = 0; i < PINGS; i++) data += `<iq type='get' id='p${i}'><ping xmlns='urn:xmpp:ping'/></iq>${PAD}`;
    const bytes = Buffer.byteLength(data);
    const t0 = Date.now();
    w.push(data);
    await w.next((e) => e.name === 'iq' && e.attrs.id === `p${PINGS - 1}`, 'the last pong', 30_000);
    const seconds = (Date.now() - t0) / 1000;
    const expected = (bytes - RATE * BURST_S) / RATE;
    // Throttled (not all at once), to about the rate: between 80 % of the expected time and twice it.
    expect(seconds, `${bytes} bytes took ${seconds.toFixed(2)} s; at ${RATE} B/s with a ${BURST_S} s burst ${expected.toFixed(2)} s`).toBeGreaterThan(expected * 0.8);
    expect(seconds).toBeLessThan(expected * 2 + 1);
    // The connection is slowed, not dropped.
    expect((await ping(w, 10_000)).attrs.type).toBe('result');
    w.destroy();
  }, 30_000);
});
