// s2s_idle_timeout: two Clove servers with b32 names federating through the SOCKS5 test proxy,
// with the idle timeout at 2 s. Shown for real:
//  1. after a message, the outbound stream closes once idle (the socket through the proxy closes,
//     ~2 s after the last stanza) — with `</stream:stream>` and no stream error (the receiving
//     S2SIn saw the peer end its stream), while the receiving server keeps serving its clients;
//  2. the next message builds a new stream (a second CONNECT for the peer's b32 name) and every
//     message arrives exactly once;
//  3. a message every T/3 for 2·T keeps one stream (one CONNECT);
//  4. an outbound stream whose last activity was a dialback verification (no stanza sent after
//     it) still closes once idle: the idle timer must re-arm instead of giving up.
// The stream ends are observed by wrapping S2SOut/S2SIn.onClosed (both servers run in this
// process); the sockets through the proxy by wrapping the connector each server dials with.
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Wire, match } from '../helpers/wire.js';
import { SocksProxy } from '../helpers/socks-proxy.js';
import * as guard from '../helpers/leak-guard.js';
import { createConnector } from '../../src/net/connect.js';
import type { Connector } from '../../src/net/connector.js';
import { S2SOut } from '../../src/stream/s2s-out.js';
import { S2SIn } from '../../src/stream/s2s-in.js';

const A = 'idlea'.padEnd(52, 'a') + '.b32.i2p';
const B = 'idleb'.padEnd(52, 'b') + '.b32.i2p';
const IDLE_S = 2;
const IDLE_MS = IDLE_S * 1000;

/** One s2s stream that ended: which way it carried stanzas, who ended it and why. */
interface Ended { kind: 's2s-out' | 's2s-in'; dir: string; endedBy: string | undefined; reason: string; at: number }
const ended: Ended[] = [];

/** Record every S2SOut/S2SIn end (then run the real onClosed). */
function recordEnds(cls: typeof S2SOut | typeof S2SIn, kind: Ended['kind']): void {
  const proto = cls.prototype as unknown as { onClosed(reason: string): void };
  const orig = proto.onClosed;
  vi.spyOn(proto, 'onClosed').mockImplementation(function (this: S2SOut | S2SIn, reason: string) {
    // `verified` holds "remote local"; an outbound stream carries local → remote, an inbound one remote → local.
    const [remote, local] = ([...this.verified][0] ?? ' ').split(' ');
    const dir = kind === 's2s-out' ? `${local}>${remote}` : `${remote}>${local}`;
    ended.push({ kind, dir, endedBy: (this as unknown as { endedBy?: string }).endedBy, reason, at: Date.now() });
    orig.call(this, reason);
  });
}
const endsOf = (kind: Ended['kind'], dir: string): Ended[] => ended.filter((e) => e.kind === kind && e.dir === dir);

/** The real connector, keeping every socket it hands out (the client side of a proxy connection). */
function trackedConnector(): { connector: Connector; sockets: Socket[]; open: Set<Socket> } {
  const inner = createConnector();
  const sockets: Socket[] = [];
  const open = new Set<Socket>();
  const connector: Connector = {
    async connect(route, opts) {
      const s = await inner.connect(route, opts);
      sockets.push(s);
      open.add(s);
      s.once('close', () => open.delete(s));
      return s;
    },
  };
  return { connector, sockets, open };
}

let proxy: SocksProxy;
let a: TestServer;
let b: TestServer;
const aOut = trackedConnector();
const bOut = trackedConnector();
let alice: Wire;
let bob: Wire;

const requests = (name: string): number => proxy.requested.filter((n) => n === name).length;
const login = (srv: TestServer, username: string) =>
  Wire.login({ port: srv.port, domain: srv.domain, username, password: `${username}-pw`, resource: 'r', timeoutMs: 10_000 });
const waitUntil = (cond: () => boolean, ms: number) => vi.waitFor(() => { if (!cond()) throw new Error(`still false: ${String(cond)}`); }, { timeout: ms, interval: 25 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** alice (A) → bob (B); resolves when bob has it. */
async function aliceToBob(id: string): Promise<void> {
  alice.send(`<message to='bob@${B}/r' type='chat' id='${id}'><body>${id}</body></message>`);
  await bob.waitFor(match('message', { id, from: `alice@${A}/r` }), 10_000);
}

/** bob (B) → alice (A); resolves when alice has it. */
async function bobToAlice(id: string): Promise<void> {
  bob.send(`<message to='alice@${A}/r' type='chat' id='${id}'><body>${id}</body></message>`);
  await alice.waitFor(match('message', { id, from: `bob@${B}/r` }), 10_000);
}

/** Messages with `prefix` ids that bob received, in order (duplicates included). */
const bobGot = (prefix: string): string[] =>
  bob.received.filter((e) => e.name === 'message' && e.attrs.id?.startsWith(prefix)).map((e) => e.attrs.id as string);

beforeAll(async () => {
  recordEnds(S2SOut, 's2s-out');
  recordEnds(S2SIn, 's2s-in');
  proxy = await SocksProxy.start();
  const extra = [
    `darknet_only = true\ndarknet_socks5_host = "127.0.0.1"\ndarknet_socks5_port = ${proxy.port}`,
    `s2s_idle_timeout = ${IDLE_S}`,
    'modules_enabled = { "roster"; "disco"; "ping"; "darknet" }',
  ].join('\n');
  a = await startTestServer({ s2s: true, extra, hosts: `VirtualHost "${A}"`, connector: aOut.connector });
  b = await startTestServer({ s2s: true, extra, hosts: `VirtualHost "${B}"`, connector: bOut.connector });
  proxy.map(A, a.server.s2sPort).map(B, b.server.s2sPort);
  await a.addUser('alice', 'alice-pw');
  await b.addUser('bob', 'bob-pw');
  await b.addUser('carol', 'carol-pw');
  alice = await login(a, 'alice');
  bob = await login(b, 'bob');
  alice.send('<presence/>');
  bob.send('<presence/>');
});

afterAll(async () => {
  await alice?.close();
  await bob?.close();
  await a?.stop();
  await b?.stop();
  await proxy?.close();
  vi.restoreAllMocks();
});

describe('s2s_idle_timeout through the SOCKS5 proxy', () => {
  guard.useLeakGuard(() => [{ port: proxy.port }, { port: a.port }, { port: b.port }]);

  it('closes an idle outbound stream cleanly, then builds a new one for the next message', async () => {
    const before = Date.now(); // A's last activity on the stream is after this...
    await aliceToBob('i1');
    const delivered = Date.now(); // ...and before this
    expect(requests(B)).toBe(1);
    expect(aOut.open.size).toBe(1);

    // 1. Idle for the timeout: A's outbound socket through the proxy closes.
    await waitUntil(() => aOut.open.size === 0, IDLE_MS + 3000);
    const [out] = endsOf('s2s-out', `${A}>${B}`);
    expect(out).toBeDefined();
    expect(out!.at - before).toBeGreaterThanOrEqual(IDLE_MS - 5);
    expect(out!.at - delivered).toBeLessThan(IDLE_MS + 1500);
    // 4. A ended it (no stream error: reason 'closed'), and B read A's `</stream:stream>`
    // before anything else ended its side.
    expect(out).toMatchObject({ endedBy: 'local', reason: 'closed' });
    await waitUntil(() => endsOf('s2s-in', `${A}>${B}`).length === 1, 2000);
    expect(endsOf('s2s-in', `${A}>${B}`)[0]).toMatchObject({ endedBy: 'peer', reason: 'closed' });

    // B keeps serving its own clients: bob's session is up and answered; carol logs in and talks to him.
    expect(bob.closed).toBe(false);
    const pong = await bob.iq(`<iq type='get' to='${B}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(pong.attrs.type).toBe('result');
    const carol = await login(b, 'carol');
    carol.send(`<message to='bob@${B}/r' type='chat' id='local1'><body>hi</body></message>`);
    await bob.waitFor(match('message', { id: 'local1', from: `carol@${B}/r` }), 5000);
    await carol.close();

    // 2. The next message goes over a new stream: a second CONNECT for B.
    await aliceToBob('i2');
    expect(requests(B)).toBe(2);
    expect(aOut.sockets.length).toBe(2);
    expect(aOut.open.size).toBe(1);
    await bob.expectNothing(match('message', { from: `alice@${A}/r` }), 300);
    expect(bobGot('i')).toEqual(['i1', 'i2']);

    // The new stream idles out as well.
    await waitUntil(() => aOut.open.size === 0, IDLE_MS + 3000);
    expect(endsOf('s2s-out', `${A}>${B}`)).toHaveLength(2);
  });

  it('keeps one stream while a message goes every T/3 for 2·T', async () => {
    await waitUntil(() => aOut.open.size === 0, IDLE_MS + 3000); // start from no stream
    const connects = requests(B);
    const closes = endsOf('s2s-out', `${A}>${B}`).length;
    const ids = Array.from({ length: 7 }, (_, i) => `t${i}`);
    const started = Date.now();
    for (const [i, id] of ids.entries()) {
      await sleep(started + (i * IDLE_MS) / 3 - Date.now());
      await aliceToBob(id);
    }
    expect(Date.now() - started).toBeGreaterThan(IDLE_MS * 1.9);
    expect(requests(B)).toBe(connects + 1);
    expect(endsOf('s2s-out', `${A}>${B}`)).toHaveLength(closes);
    expect(aOut.open.size).toBe(1);
    await bob.expectNothing(match('message', { from: `alice@${A}/r` }), 300);
    expect(bobGot('t')).toEqual(ids);

    // Once the traffic stops, it idles out.
    await waitUntil(() => aOut.open.size === 0, IDLE_MS + 3000);
    expect(endsOf('s2s-out', `${A}>${B}`).at(-1)).toMatchObject({ endedBy: 'local', reason: 'closed' });
  });

  it('closes a stream whose last activity was a dialback verification', async () => {
    await waitUntil(() => aOut.open.size === 0 && bOut.open.size === 0, IDLE_MS + 3000);
    // bob keeps B's stream to A busy (A dials back over a stream A → B, which then idles out)...
    const started = Date.now();
    for (let i = 0; aOut.open.size > 0 || i === 0; i++) {
      await sleep(started + (i * IDLE_MS) / 3 - Date.now());
      await bobToAlice(`v${i}`);
      expect(i).toBeLessThan(9);
    }
    expect(bOut.open.size).toBe(1);
    // ...then a new stream A → B: B verifies A's key over its open stream to A (no stanza on it).
    const connectsA = requests(A);
    await aliceToBob('w1');
    expect(requests(A)).toBe(connectsA);
    // Nothing more goes B → A: its stream must close once idle, whatever activity came last.
    await waitUntil(() => bOut.open.size === 0, IDLE_MS + 3000);
    expect(endsOf('s2s-out', `${B}>${A}`).at(-1)).toMatchObject({ endedBy: 'local', reason: 'closed' });
    await waitUntil(() => aOut.open.size === 0, IDLE_MS + 3000);
  });

  it('ended every s2s stream cleanly: the idle side sent </stream:stream>, no stream errors', () => {
    // Each socket either server dialed carried one outbound stream, and all of them idled out
    // (including B's streams to A that only ever carried dialback verifications).
    expect(aOut.open.size + bOut.open.size).toBe(0);
    const outs = ended.filter((e) => e.kind === 's2s-out');
    expect(outs).toHaveLength(aOut.sockets.length + bOut.sockets.length);
    expect(ended.filter((e) => e.kind === 's2s-in')).toHaveLength(outs.length);
    for (const e of ended) {
      expect(e).toMatchObject(e.kind === 's2s-out' ? { endedBy: 'local', reason: 'closed' } : { endedBy: 'peer', reason: 'closed' });
    }
  });
});
