// A message queued for an unreachable peer survives kill -9 (issue 3, "Patience and no silent
// loss"): a `clove start` child A (file storage) queues alice's message for bob on B while the
// proxy refuses B, the queue file appears in A's data directory, A is SIGKILLed, B becomes
// reachable, and a new A on the same data directory delivers the message — exactly once — and
// removes the queue file. B is an in-process test server; both reach each other through the
// SOCKS5 test proxy.
//
// A's s2s port changes on restart (port 0), and B dials A back (dialback) as soon as the new A
// connects. So the proxy maps A's name to a small relay that holds each connection until the
// current A's port is known: the test never races the child's log output.
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Wire, match } from '../helpers/wire.js';
import { SocksProxy, darknetConfig } from '../helpers/socks-proxy.js';
import { encodeName } from '../../src/storage/file.js';

const A = 'restartaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b32.i2p';
const B = 'waitingbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.b32.i2p';
const BODY = `queued across a crash ${Math.random().toString(36).slice(2)}`;

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `check` every 25 ms until it returns true; fail with `what` after `ms`. */
async function until(check: () => Promise<boolean> | boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(25);
  }
}

/** A relay to A's current s2s port; connections wait while A is down (port undefined). */
class Relay {
  port = 0;
  private target: number | undefined;
  private waiting: Array<() => void> = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: Server = net.createServer((c) => this.accept(c));

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Point at a new port (or at nothing while A is down). */
  setTarget(port: number | undefined): void {
    this.target = port;
    if (port === undefined) return;
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private track(s: Socket): Socket {
    this.sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => this.sockets.delete(s));
    return s;
  }

  private accept(c: Socket): void {
    this.track(c);
    c.pause();
    const go = (): void => {
      if (c.destroyed) return;
      const up = this.track(net.connect({ host: '127.0.0.1', port: this.target! }));
      up.once('error', () => c.destroy());
      c.once('close', () => up.destroy());
      c.pipe(up).pipe(c);
      c.resume();
    };
    if (this.target === undefined) this.waiting.push(go);
    else go();
  }
}

let proxy: SocksProxy | undefined;
let relay: Relay | undefined;
let b: TestServer | undefined;
const children: ChildServer[] = [];
const clients: Wire[] = [];

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  for (const c of children) await c.kill('SIGKILL');
  if (children[0]) await removeChildDir(children[0].dir);
  await b?.stop();
  await relay?.close();
  await proxy?.close();
});

const login = (port: number, domain: string, username: string): Promise<Wire> =>
  Wire.login({ port, domain, username, password: `${username}-pw`, resource: 'r', timeoutMs: 10_000 }).then((c) => {
    clients.push(c);
    return c;
  });

it('a message queued for an unreachable peer survives SIGKILL and is delivered once after restart', async () => {
  proxy = await SocksProxy.start();
  relay = await new Relay().start();
  b = await startTestServer({ s2s: true, extra: darknetConfig(proxy.port, 's2s_connect_timeout = 2'), hosts: `VirtualHost "${B}"` });
  await b.addUser('bob', 'bob-pw');
  // B exists but cannot be reached: i2pd's "no LeaseSet" answer.
  proxy.map(B, b.server.s2sPort).behave('refuse', B);
  proxy.map(A, relay.port);

  const a1 = await startChild({ s2s: true, hosts: `VirtualHost "${A}"`, extra: darknetConfig(proxy.port, 's2s_connect_timeout = 2') });
  children.push(a1);
  relay.setTarget(a1.s2sPort);
  await addUsers(a1.configPath, [[`alice@${A}`, 'alice-pw']]);
  const queueFile = join(a1.dataPath, encodeName(A), 's2s_queue', `${encodeName(B)}.json`);

  const alice = await login(a1.port, A, 'alice');
  const bob = await login(b.port, B, 'bob');
  alice.send(`<message to='bob@${B}/r' type='chat' id='q1'><body>${BODY}</body></message>`);

  // Queued on disk, and the first attempt has failed (so nothing is in flight when we kill).
  await until(async () => existsSync(queueFile) && (await readFile(queueFile, 'utf8')).includes(BODY), `${queueFile} holding the message`);
  await a1.waitForLog((l) => l.level === 40 && l.remote === B && /^s2s: connection failed: .*host unreachable/.test(l.msg));
  const saved = JSON.parse(await readFile(queueFile, 'utf8')) as unknown;
  expect(saved).toEqual([expect.stringMatching(/^<message .*q1.*<\/message>$/s)]);
  await alice.expectNothing(match('message', { id: 'q1', type: 'error' }), 100); // not bounced: the deadline is 10 min

  relay.setTarget(undefined);
  const exit = await a1.kill('SIGKILL');
  expect(exit.signal).toBe('SIGKILL');
  alice.destroy();
  expect(existsSync(queueFile), 'the queue file survives the kill').toBe(true);
  await bob.expectNothing(match('message', { id: 'q1' }), 200);

  // B comes back; A restarts on the same data directory and resumes delivery by itself.
  proxy.behave('ok', B);
  const t0 = Date.now();
  const a2 = await startChild({ dir: a1.dir, s2s: true });
  children.push(a2);
  relay.setTarget(a2.s2sPort);
  const resumed = await a2.waitForLog((l) => l.msg === 's2s: resuming delivery of queued messages' && l.remote === B);
  expect(resumed.queued).toBe(1);

  const m = await bob.waitFor(match('message', { id: 'q1' }), 20_000);
  expect(m.attrs.from).toBe(`alice@${A}/r`);
  expect(m.attrs.type).toBe('chat');
  expect(m.getChildText('body')).toBe(BODY);
  console.info(`federation-restart: delivered ${Date.now() - t0} ms after the restart began`);
  await until(() => !existsSync(queueFile), 'the queue file to be removed after delivery', 5000);

  // Exactly once: no second copy now, nor after another kill -9 and restart.
  await bob.expectNothing(match('message', { id: 'q1' }), 1000);
  relay.setTarget(undefined);
  expect((await a2.kill('SIGKILL')).signal).toBe('SIGKILL');
  const a3 = await startChild({ dir: a1.dir, s2s: true });
  children.push(a3);
  relay.setTarget(a3.s2sPort);
  const alice3 = await login(a3.port, A, 'alice');
  await alice3.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`);
  await bob.expectNothing(match('message', { id: 'q1' }), 1500);
  expect(a3.logs().some((l) => l.msg === 's2s: resuming delivery of queued messages')).toBe(false);
  expect(existsSync(queueFile)).toBe(false);

  // Nothing went wrong on the way, and the message text never reached a log.
  for (const c of [a1, a2, a3]) {
    expect(c.logs().filter((l) => l.level >= 50)).toEqual([]);
    expect(c.stderr().includes(BODY)).toBe(false);
  }
}, 45_000);
