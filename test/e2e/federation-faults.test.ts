// Federation faults (issue 3): proxy down, proxy answers 0x04, proxy stalls, peer hangs up
// mid-handshake, peer fails dialback (both directions), peer forges `from`, and several messages
// queued while the peer is away. Each ends in the right error to the sender (condition and a
// text saying why), a log line saying why, no crash, and a third server (C) that keeps
// federating with the sender while the fault lasts.
//
// The sending servers (A, and D whose proxy is down) run as `clove start` child processes so
// their log (pino JSON on stderr) can be asserted and a crash would show as an exit; the peers
// (B with four VirtualHosts, C) are in-process test servers; F1–F3 are fake s2s peers scripted
// here. Timings: s2s_connect_timeout = 1, s2s_send_deadline = 3, s2s_timeout = 3. The first
// backoff (5 s) is longer than the deadline, so after a failed first attempt the manager retries
// exactly at the deadline and bounces if that retry fails too: every bounce lands at ~3 s.
import { StringDecoder } from 'node:string_decoder';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { addUsers, removeChildDir, startChild, type ChildExit, type ChildServer, type LogLine } from '../helpers/child-server.js';
import { SocksProxy, darknetConfig } from '../helpers/socks-proxy.js';
import { match, SaxStream, Wire, NS_STREAMS, NS_TLS, type El } from '../helpers/wire.js';
import { ScriptedPeer, openS2S } from '../helpers/s2s-peer.js';

/** A b32-looking name (52 base32 characters) starting with `tag`. */
const b32 = (tag: string): string => `${tag}${'a'.repeat(52 - tag.length)}.b32.i2p`;

const A = b32('sender');      // the server under test (child)
const D = b32('deadproxy');   // a server whose SOCKS proxy is down (child)
const B1 = b32('peerone');    // B's hosts: a peer reached normally (fault 1 recovery)
const B2 = b32('peertwo');    //   hangs up after the proxy's success (fault 4a)
const B3 = b32('peerthree');  //   hangs up, then comes back (fault 4b)
const B4 = b32('peerfour');   //   unreachable while messages pile up (fault 7)
const C = b32('third');       // the third server: must keep working during every fault
const R = b32('refused');     // the proxy answers 0x04 (no such server)
const S = b32('stalled');     // the proxy never answers
const F1 = b32('fakeone');    // fake peer: rejects our dialback key
const F2 = b32('faketwo');    // fake authoritative server: says a key is invalid
const F3 = b32('fakethree');  // fake peer: verified, then forges `from`

const DB = 'jabber:server:dialback';
const TIMEOUTS = ['s2s_connect_timeout = 1', 's2s_send_deadline = 3', 's2s_timeout = 3'].join('\n');
const DEADLINE_MS = 3000;

/** A port nothing listens on (taken from port 0, then released). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A plain TCP forwarder on `port` to 127.0.0.1:`target` (the proxy coming back on its port). */
async function forwarder(port: number, target: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const track = (s: Socket): Socket => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    return s;
  };
  const server = net.createServer((c) => {
    track(c);
    const up = track(net.connect({ host: '127.0.0.1', port: target }));
    c.pipe(up).pipe(c);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

interface FakePeerOptions {
  domain: string;
  /** How to answer the db:result a connecting server sends (its key for us). */
  result: 'valid' | 'invalid' | 'ignore';
  /** How to answer a db:verify (the authoritative role). */
  verify: 'valid' | 'invalid';
}

/**
 * A scripted s2s server: stream header, STARTTLS (required), features with dialback, then
 * dialback answers as told. It records what it was asked.
 */
class FakePeer extends ScriptedPeer {
  readonly results: El[] = [];
  readonly verifies: El[] = [];
  private constructor(private readonly opts: FakePeerOptions) {
    super();
  }

  static start(opts: FakePeerOptions): Promise<FakePeer> {
    return new FakePeer(opts).listen(opts.domain);
  }

  protected accept(raw: Socket): void {
    const { domain } = this.opts;
    let sock: Socket = raw;
    let secure = false;
    let resetBeforeNext = false;
    let n = 0;
    const write = (data: string): void => {
      if (!sock.destroyed) sock.write(data);
    };
    // What Clove sends is read with sax, never with Clove's own parser.
    const newParser = (): SaxStream => new SaxStream({
      header: () => {
        write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS_STREAMS}' xmlns:db='${DB}' id='fake-${this.connections}-${++n}' from='${domain}' version='1.0'>`);
        const tlsFeature = secure ? '' : `<starttls xmlns='${NS_TLS}'><required/></starttls>`;
        write(`<stream:features>${tlsFeature}<dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback></stream:features>`);
      },
      element: (el) => {
        if (el.local === 'starttls' && !secure) {
          write(`<proceed xmlns='${NS_TLS}'/>`);
          sock = this.listener.upgrade(raw, onData);
          secure = true;
          resetBeforeNext = true; // the next bytes (over TLS) start a new stream
          return;
        }
        if (el.name === 'db:result') {
          this.results.push(el);
          if (this.opts.result !== 'ignore') write(`<db:result from='${domain}' to='${el.attrs.from}' type='${this.opts.result}'/>`);
          return;
        }
        if (el.name === 'db:verify') {
          this.verifies.push(el);
          write(`<db:verify from='${domain}' to='${el.attrs.from}' id='${el.attrs.id}' type='${this.opts.verify}'/>`);
        }
      },
      end: () => {
        write('</stream:stream>');
        sock.end();
      },
      error: () => sock.destroy(),
    });
    let parser = newParser();
    let decoder = new StringDecoder('utf8');
    const onData = (d: Buffer): void => {
      if (resetBeforeNext) {
        resetBeforeNext = false;
        parser = newParser();
        decoder = new StringDecoder('utf8');
      }
      parser.write(decoder.write(d));
    };
    raw.on('data', onData);
  }
}

let proxy: SocksProxy;
let a: ChildServer;
let d: ChildServer;
let b: TestServer;
let c: TestServer;
const fakes: FakePeer[] = [];
let f1: FakePeer;
let f2: FakePeer;
let f3: FakePeer;
let dDeadPort = 0;
let alice: Wire;
let carol: Wire;
const exits = new Map<ChildServer, ChildExit>();
/** Message bodies sent in this file: none may ever appear in a log (house rule 7). */
const bodies: string[] = [];

const body = (tag: string): string => {
  const text = `body-${tag}-${Math.random().toString(36).slice(2, 10)}`;
  bodies.push(text);
  return text;
};

const login = (port: number, domain: string, username: string, resource = 'r'): Promise<Wire> =>
  Wire.login({ port, domain, username, password: `${username}-pw`, resource, timeoutMs: 10_000 });

beforeAll(async () => {
  proxy = await SocksProxy.start();
  const started = Date.now();
  [b, c, a, f1, f2, f3, dDeadPort] = await Promise.all([
    startTestServer({ s2s: true, extra: darknetConfig(proxy.port), hosts: [B1, B2, B3, B4].map((h) => `VirtualHost "${h}"`).join('\n') }),
    startTestServer({ s2s: true, extra: darknetConfig(proxy.port), hosts: `VirtualHost "${C}"` }),
    startChild({ s2s: true, extra: `${darknetConfig(proxy.port)}\n${TIMEOUTS}`, hosts: `VirtualHost "${A}"` }),
    FakePeer.start({ domain: F1, result: 'invalid', verify: 'invalid' }),
    FakePeer.start({ domain: F2, result: 'ignore', verify: 'invalid' }),
    FakePeer.start({ domain: F3, result: 'valid', verify: 'valid' }),
    deadPort(),
  ]);
  fakes.push(f1, f2, f3);
  d = await startChild({ s2s: true, extra: `${darknetConfig(dDeadPort)}\n${TIMEOUTS}`, hosts: `VirtualHost "${D}"` });
  for (const child of [a, d]) void child.exited.then((e) => exits.set(child, e));
  proxy.map(A, a.s2sPort).map(D, d.s2sPort).map(C, c.server.s2sPort)
    .map(F1, f1.port).map(F2, f2.port).map(F3, f3.port);
  for (const h of [B1, B2, B3, B4]) proxy.map(h, b.server.s2sPort);
  proxy.behave('refuse', R).behave('stall', S);
  await Promise.all([
    addUsers(a.configPath, [[`alice@${A}`, 'alice-pw']]),
    addUsers(d.configPath, [[`dave@${D}`, 'dave-pw']]),
    ...[B1, B2, B3, B4].map((h) => b.addUser('bob', 'bob-pw', h)),
    c.addUser('carol', 'carol-pw'),
  ]);
  alice = await login(a.port, A, 'alice');
  carol = await login(c.port, C, 'carol');
  console.info(`federation-faults: servers up in ${Date.now() - started} ms`);
});

afterAll(async () => {
  await alice?.close().catch(() => {});
  await carol?.close().catch(() => {});
  for (const child of [a, d]) {
    if (!child) continue;
    await child.kill('SIGTERM');
    await removeChildDir(child.dir);
  }
  await b?.stop();
  await c?.stop();
  for (const f of fakes) await f.close();
  await proxy?.close();
});

/**
 * On an inbound s2s stream to A, claim to be `from`: stream, STARTTLS, the stream again, then the
 * dialback `key`. Returns A's <db:result/> answer.
 */
async function dialbackTo(w: Wire, from: string, key: string): Promise<El> {
  await openS2S(w, from, A);
  await w.write(`<db:result from='${from}' to='${A}'>${key}</db:result>`);
  return w.next((e) => e.name === 'db:result', 'the dialback answer', 10_000);
}

/**
 * A stanza `id` claiming to be from `from` (not verified on the stream `w`) was refused: the stream
 * ends with invalid-from, alice gets nothing, and A logs why. Returns the error and the log line.
 */
async function refusedAsInvalidFrom(w: Wire, from: string, id: string): Promise<{ err: { condition: string; el: El }; line: LogLine }> {
  const err = await w.streamError(5000);
  expect(err.condition).toBe('invalid-from');
  await w.streamClosed(5000);
  await alice.expectNothing(match('message', { id }), 500);
  const line = await a.waitForLog((l) => l.level === 40 && l.from === from && /^s2s: refused a stanza \(invalid-from\)/.test(l.msg), 5000);
  expect(line.msg).toContain(`${from} is not verified on this stream for ${A}`);
  return { err, line };
}

let otherSeq = 0;
/** A ↔ C still federates: a message each way. */
async function otherFederationWorks(): Promise<void> {
  const n = ++otherSeq;
  alice.send(`<message to='carol@${C}/r' type='chat' id='to-c-${n}'><body>${body(`to-c-${n}`)}</body></message>`);
  const got = await carol.waitFor(match('message', { id: `to-c-${n}` }), 10_000);
  expect(got.attrs.from).toBe(`alice@${A}/r`);
  carol.send(`<message to='alice@${A}/r' type='chat' id='from-c-${n}'><body>${body(`from-c-${n}`)}</body></message>`);
  const back = await alice.waitFor(match('message', { id: `from-c-${n}` }), 10_000);
  expect(back.attrs.from).toBe(`carol@${C}/r`);
}

/** The bounce for message `id`: its condition and its text. */
async function bounceOf(client: Wire, id: string, timeoutMs = 10_000): Promise<{ condition: string; text: string }> {
  const err = await client.waitFor(match('message', { id, type: 'error' }), timeoutMs);
  const e = err.getChild('error');
  expect(e, err.toString()).toBeDefined();
  const cond = e!.elements().find((x) => x.local !== 'text');
  return { condition: cond?.local ?? '(none)', text: e!.getChildText('text') ?? '' };
}

/**
 * A warning from `child` that attempt number `attempt` to reach `remote` failed, matching `why`.
 * Waited for, not just looked up: the log is written asynchronously, so the bounce may reach the
 * client before the line reaches stderr.
 */
const failureLog = (child: ChildServer, remote: string, why: RegExp, attempt = 1): Promise<LogLine> =>
  child.waitForLog((l) => l.level === 40 && l.remote === remote && l.attempt === attempt && /^s2s: connection failed: /.test(l.msg) && why.test(l.msg), 10_000);

/** Fail if `child` exited or logged an error (50+) — "no crash". */
function stillHealthy(child: ChildServer): void {
  expect(exits.get(child), `the child exited; stderr tail:\n${child.stderr().slice(-3000)}`).toBeUndefined();
  expect(child.logs().filter((l) => l.level >= 50)).toEqual([]);
}

const count = (name: string): number => proxy.requested.filter((n) => n === name).length;

describe('federation faults (sender A, peers B and C, fake peers F1–F3)', () => {
  it('1. proxy down: remote-server-not-found naming the proxy after the deadline; the server keeps serving and recovers when the proxy returns', async () => {
    const dave = await login(d.port, D, 'dave');
    const t0 = Date.now();
    dave.send(`<message to='bob@${B1}/r' type='chat' id='p1'><body>${body('p1')}</body></message>`);
    // D's clients are still served while its federation is down.
    const pong = await dave.iq(`<iq type='get' to='${D}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(pong.attrs.type).toBe('result');
    // And the rest of the federation (A ↔ C, same proxy) is untouched.
    await otherFederationWorks();

    const bounce = await bounceOf(dave, 'p1');
    const elapsed = Date.now() - t0;
    expect(['remote-server-not-found', 'remote-server-timeout']).toContain(bounce.condition);
    expect(bounce.condition).toBe('remote-server-not-found'); // what the code does: a refused TCP connect is not a timeout
    expect(bounce.text).toContain(B1);
    expect(bounce.text).toMatch(new RegExp(`SOCKS5 proxy 127\\.0\\.0\\.1:${dDeadPort}\\b.*ECONNREFUSED`));
    expect(elapsed).toBeGreaterThanOrEqual(DEADLINE_MS - 100);
    const line = await failureLog(d, B1, new RegExp(`cannot connect to the SOCKS5 proxy 127\\.0\\.0\\.1:${dDeadPort}`));
    expect(line.msg).toMatch(/is i2pd running/);
    await failureLog(d, B1, /cannot connect to the SOCKS5 proxy/, 2); // the retry at the deadline

    // The proxy comes back on its port: the next message goes through, no restart needed.
    const fwd = await forwarder(dDeadPort, proxy.port);
    try {
      const bob = await login(b.port, B1, 'bob');
      dave.send(`<message to='bob@${B1}/r' type='chat' id='p2'><body>${body('p2')}</body></message>`);
      const m = await bob.waitFor(match('message', { id: 'p2' }), 10_000);
      expect(m.attrs.from).toBe(`dave@${D}/r`);
      await bob.close();
    } finally {
      await dave.close();
      await fwd.close();
    }
    stillHealthy(d);
  });

  it('2. proxy answers 0x04: bounced after the deadline with "host unreachable" in the text', async () => {
    const before = count(R);
    const t0 = Date.now();
    alice.send(`<message to='nobody@${R}/x' type='chat' id='r1'><body>${body('r1')}</body></message>`);
    await otherFederationWorks();
    const bounce = await bounceOf(alice, 'r1');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(DEADLINE_MS - 100);
    expect(bounce.condition).toBe('remote-server-not-found');
    expect(bounce.text).toContain(R);
    expect(bounce.text).toMatch(/host unreachable/);
    expect(bounce.text).toMatch(/0x04/);
    expect(count(R) - before).toBeGreaterThanOrEqual(2); // retried before giving up
    await failureLog(a, R, /host unreachable .*\(0x04\)/);
    await failureLog(a, R, /host unreachable .*\(0x04\)/, 2);
    stillHealthy(a);
  });

  it('3. proxy stalls: remote-server-timeout once s2s_connect_timeout has run out on the last try', async () => {
    const before = count(S);
    const t0 = Date.now();
    alice.send(`<message to='nobody@${S}/x' type='chat' id='s1'><body>${body('s1')}</body></message>`);
    await otherFederationWorks();
    const bounce = await bounceOf(alice, 's1');
    // First try times out at 1 s, the retry starts at the 3 s deadline and times out at 4 s.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(DEADLINE_MS + 1000 - 100);
    expect(bounce.condition).toBe('remote-server-timeout');
    expect(bounce.text).toContain(S);
    expect(bounce.text).toMatch(/did not reach .* within 1 s/);
    expect(count(S) - before).toBeGreaterThanOrEqual(2);
    await failureLog(a, S, /did not reach .* within 1 s/);
    await failureLog(a, S, /did not reach .* within 1 s/, 2);
    stillHealthy(a);
  });

  it('4a. peer hangs up right after the proxy\'s success: retried, then bounced after the deadline', async () => {
    proxy.behave('eof-after-success', B2);
    const before = count(B2);
    const t0 = Date.now();
    alice.send(`<message to='bob@${B2}/r' type='chat' id='e1'><body>${body('e1')}</body></message>`);
    await otherFederationWorks();
    const bounce = await bounceOf(alice, 'e1');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(DEADLINE_MS - 100);
    expect(bounce.condition).toBe('remote-server-not-found');
    expect(bounce.text).toContain(B2);
    expect(bounce.text).toMatch(/closed .*before the stream was verified/);
    expect(count(B2) - before).toBeGreaterThanOrEqual(2);
    await failureLog(a, B2, /the connection closed \(before the stream was verified\)/);
    await failureLog(a, B2, /the connection closed \(before the stream was verified\)/, 2);
    stillHealthy(a);
  });

  it('4b. peer hangs up, then is back before the deadline: the retry delivers the queued message', async () => {
    const bob = await login(b.port, B3, 'bob');
    proxy.behave('eof-after-success', B3);
    const before = count(B3);
    alice.send(`<message to='bob@${B3}/r' type='chat' id='e2'><body>${body('e2')}</body></message>`);
    await failureLog(a, B3, /before the stream was verified/); // the first attempt failed
    proxy.behave('ok', B3);
    await otherFederationWorks();
    const m = await bob.waitFor(match('message', { id: 'e2' }), 10_000);
    expect(m.attrs.from).toBe(`alice@${A}/r`);
    expect(count(B3) - before).toBeGreaterThanOrEqual(2); // delivered by a retry
    await alice.expectNothing(match('message', { id: 'e2', type: 'error' }), 300);
    await bob.close();
    stillHealthy(a);
  });

  it('5a. peer rejects our dialback key: bounced with a text saying so', async () => {
    const t0 = Date.now();
    alice.send(`<message to='someone@${F1}/x' type='chat' id='k1'><body>${body('k1')}</body></message>`);
    await otherFederationWorks();
    const bounce = await bounceOf(alice, 'k1');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(DEADLINE_MS - 100);
    expect(bounce.condition).toBe('remote-server-not-found');
    expect(bounce.text).toContain(F1);
    expect(bounce.text).toMatch(/rejected our dialback key/);
    expect(f1.results.length).toBeGreaterThanOrEqual(2); // the fake really was asked (twice: try + retry)
    expect(f1.results[0]!.attrs.from).toBe(A);
    expect(f1.results[0]!.attrs.to).toBe(F1);
    await failureLog(a, F1, /rejected our dialback key/);
    await failureLog(a, F1, /rejected our dialback key/, 2);
    stillHealthy(a);
  });

  it('5b. inbound peer whose authoritative server says its key is invalid: db:result invalid, then invalid-from', async () => {
    const w = await Wire.connect(a.s2sPort);
    try {
      const answer = await dialbackTo(w, F2, 'ab'.repeat(32));
      expect(answer.attrs).toMatchObject({ from: A, to: F2, type: 'invalid' });
      // A asked F2's authoritative server (through the proxy) about exactly this key and stream.
      expect(f2.verifies.length).toBe(1);
      expect(f2.verifies[0]!.text()).toBe('ab'.repeat(32));
      expect(f2.verifies[0]!.attrs.id).toBe(w.headers[1]!.id);
      await a.waitForLog((l) => l.level === 40 && l.remote === F2 && l.msg === 'dialback: peer failed verification (inbound)');

      await w.write(`<message from='mallory@${F2}/x' to='alice@${A}/r' type='chat' id='k2'><body>${body('k2')}</body></message>`);
      await refusedAsInvalidFrom(w, F2, 'k2');
    } finally {
      w.destroy();
    }
    await otherFederationWorks();
    stillHealthy(a);
  });

  it('6. a verified peer forges `from` for another domain: invalid-from, nothing delivered', async () => {
    const w = await Wire.connect(a.s2sPort);
    try {
      const answer = await dialbackTo(w, F3, 'cd'.repeat(32));
      expect(answer.attrs).toMatchObject({ from: A, to: F3, type: 'valid' });

      // Verified for F3: its own stanzas are delivered...
      await w.write(`<message from='mallory@${F3}/x' to='alice@${A}/r' type='chat' id='f1'><body>${body('f1')}</body></message>`);
      const ok = await alice.waitFor(match('message', { id: 'f1' }), 5000);
      expect(ok.attrs.from).toBe(`mallory@${F3}/x`);
      // ...but not one claiming to come from C, which this stream never proved.
      await w.write(`<message from='carol@${C}/r' to='alice@${A}/r' type='chat' id='f2'><body>${body('f2')}</body></message>`);
      const { err, line } = await refusedAsInvalidFrom(w, C, 'f2');
      expect(err.el.getChildText('text') ?? '').toContain(C);
      expect(line.verified).toEqual([F3]);
    } finally {
      w.destroy();
    }
    await otherFederationWorks();
    stillHealthy(a);
  });

  it('7. messages queued while the peer is unreachable arrive in order once it is back', async () => {
    const bob = await login(b.port, B4, 'bob');
    proxy.behave('refuse', B4);
    const ids = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `q${i}`);
    for (const id of ids) alice.send(`<message to='bob@${B4}/r' type='chat' id='${id}'><body>${body(id)}</body></message>`);
    await failureLog(a, B4, /host unreachable/);
    proxy.behave('ok', B4);
    await otherFederationWorks();
    const got: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const m = await bob.waitFor(match('message', {}, (e) => ids.includes(e.attrs.id ?? '')), 10_000);
      got.push(m.attrs.id!);
    }
    expect(got).toEqual(ids);
    await bob.expectNothing(match('message'), 300);
    await alice.expectNothing(match('message', { type: 'error' }), 100);
    await bob.close();
    stillHealthy(a);
  });

  it('no message body ever reached a log', () => {
    const logs = a.stderr() + d.stderr();
    for (const text of bodies) expect(logs.includes(text), `a log contains ${text}`).toBe(false);
  });
});
