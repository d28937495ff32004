// /metrics while Clove federates with a real Prosody 0.12 (Debian's, with mod_onions) through
// the SOCKS5 test proxy: the outbound link to Prosody's domain shows under the darknet_map route
// (Clove reaches it through its darknet_map entry), Prosody's own stream back under the same route
// once its domain is verified on it, with the iqs they carried — and neither server's domain nor
// any user in the exposition.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProsodyPeer, type ProsodyPeer } from '../helpers/prosody-peer.js';
import { prosodyAvailable, onionsModuleDir } from '../helpers/prosody.js';
import { metricValue as value, scrapeMetrics } from '../helpers/metrics.js';
import { Wire } from '../helpers/wire.js';

const CLOVE = 'm'.repeat(52) + '.b32.i2p';
const PROSODY = 'prosody.example';
const PROSODY_B32 = 'p'.repeat(52) + '.b32.i2p';
const ready = prosodyAvailable() && onionsModuleDir() !== undefined;

let peer: ProsodyPeer | undefined;

beforeAll(async () => {
  if (!ready) return;
  peer = await startProsodyPeer({
    clove: CLOVE, prosody: PROSODY, prosodyB32: PROSODY_B32,
    cloveUsers: [{ user: 'alice', password: 'alice-pw' }],
    prosodyUsers: [{ user: 'bob', password: 'bob-pw' }],
    cloveExtra: ['http_ports = { 0 }', 'modules_enabled = { "roster"; "disco"; "darknet"; "http_openmetrics" }'],
  });
}, 60_000);

afterAll(async () => {
  await peer?.stop();
});

describe.skipIf(!ready)('/metrics with a Prosody peer', () => {
  it('shows the link both ways under its route, and no domain or user', async () => {
    const p = peer as ProsodyPeer;
    const alice = await Wire.login({ port: p.clove.port, domain: CLOVE, username: 'alice', password: 'alice-pw', resource: 'r', timeoutMs: 15_000 });
    // Prosody answers a disco#info to bob's bare JID itself, over its own stream back to Clove.
    const answer = await alice.iq(`<iq type='get' to='bob@${PROSODY}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, 40_000);
    expect(answer.attrs.from).toBe(`bob@${PROSODY}`);
    const text = await scrapeMetrics(p.clove.httpPort);
    expect(value(text, 'clove_s2s_links{direction="out",route="darknet_map",state="ready"}')).toBe(1);
    expect(value(text, 'clove_s2s_links{direction="in",route="darknet_map",state="ready"}')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'clove_s2s_connect_seconds_count{route="darknet_map",phase="tunnel"}')).toBe(1);
    expect(value(text, 'clove_s2s_connect_seconds_count{route="darknet_map",phase="stream"}')).toBe(1);
    expect(value(text, 'clove_stanzas_total{direction="out",link="s2s",kind="iq"}')).toBeGreaterThanOrEqual(1);
    expect(value(text, 'clove_stanzas_total{direction="in",link="s2s",kind="iq"}')).toBeGreaterThanOrEqual(1);
    for (const secret of [PROSODY, PROSODY_B32, 'alice', 'bob']) expect(text, secret).not.toContain(secret);
    await alice.close();
  }, 60_000);
});
