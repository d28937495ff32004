// Issue 9, attack 6 (s2s queue) and 8 (long domain): stanzas for a remote server that does not
// answer wait in a queue; it must be capped per sender (count and bytes) and per link, the
// sender of a refused stanza must get `resource-constraint` with a text, the queue must
// survive a SIGKILL (nothing acknowledged is lost), and a 495-byte domain must neither reach
// storage (ENAMETOOLONG) nor stay queued. A is a `clove start` child; its peers sit behind the
// test SOCKS5 proxy, which is told to stall (never answer), so everything stays queued.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { type El, match, Wire } from '../helpers/wire.js';
import { SocksProxy, darknetConfig } from '../helpers/socks-proxy.js';

const b32 = (tag: string): string => `${tag}${'a'.repeat(52 - tag.length)}.b32.i2p`;
const A = b32('queuesender');
const T1 = b32('stalledone');
const T2 = b32('stalledtwo');
/** A valid 495-byte .i2p domain (eight 60-byte labels): routed to the proxy, too long for a file name. */
const LONG = `${`${'l'.repeat(60)}.`.repeat(8)}abc.i2p`;
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const USERS = ['alice', 'carol', 'u1', 'u2', 'u3', 'u4', 'u5', 'eve'];

let proxy: SocksProxy;
let a: ChildServer;
const clients = new Map<string, Wire>();

const config = (): string => `${darknetConfig(proxy.port)}\ns2s_connect_timeout = 120\ns2s_send_deadline = 600`;
const login = (user: string): Promise<Wire> =>
  Wire.login({ port: a.port, domain: A, username: user, password: `${user}-pw`, resource: 'r', timeoutMs: 10_000 });

/** Send `n` messages to `to` (ids `tag-0`…), then wait until A has handled them all (a ping after them). */
async function sendMany(c: Wire, to: string, tag: string, n: number, body = 'hello'): Promise<El[]> {
  c.send(Array.from({ length: n }, (_, i) => `<message to='${to}' id='${tag}-${i}' type='chat'><body>${body}</body></message>`).join(''));
  await c.iq(`<iq type='get' to='${A}' id='ping-${tag}'><ping xmlns='urn:xmpp:ping'/></iq>`, 30_000);
  return c.collect(match('message', { type: 'error' }), 300);
}

const condition = (e: El): string | undefined => e.getChild('error')?.elements().find((c) => c.attrs.xmlns === NS_STANZAS && c.local !== 'text')?.local;
const text = (e: El): string => e.getChild('error')?.getChildText('text') ?? '';

beforeAll(async () => {
  proxy = await SocksProxy.start();
  proxy.behave('stall');
  a = await startChild({ s2s: true, extra: config(), hosts: `VirtualHost "${A}"` });
  await addUsers(a.configPath, USERS.map((u) => [`${u}@${A}`, `${u}-pw`]));
  for (const u of USERS) clients.set(u, await login(u));
}, 60_000);

afterAll(async () => {
  for (const c of clients.values()) await c.close().catch(() => {});
  if (a) {
    await a.kill('SIGKILL');
    await removeChildDir(a.dir);
  }
  await proxy?.close();
});

describe('attack 6: the s2s queue is bounded and durable', () => {
  it('one sender: 100 stanzas wait, the next 30 get resource-constraint with a text', async () => {
    const errors = await sendMany(clients.get('alice')!, `bob@${T1}`, 'count', 130);
    expect(errors.map((e) => e.attrs.id).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `count-${100 + i}`).sort());
    for (const e of errors) {
      expect(condition(e)).toBe('resource-constraint');
      expect(text(e)).toMatch(/too many stanzas waiting/);
    }
  }, 30_000);

  it('one sender: about 1 MiB waits, the message past it is refused', async () => {
    const big = 'x'.repeat(240 * 1024);
    const errors = await sendMany(clients.get('carol')!, `bob@${T2}`, 'bytes', 5, big);
    expect(errors.map((e) => e.attrs.id)).toEqual(['bytes-4']);
    expect(condition(errors[0]!)).toBe('resource-constraint');
  }, 30_000);

  it('one link: 500 stanzas wait for a server, the next sender is refused', async () => {
    // Four senders at once: their queued messages share writes (group commit).
    const accepted = await Promise.all(['u1', 'u2', 'u3', 'u4'].map((u) => sendMany(clients.get(u)!, `bob@${T1}`, u, 100)));
    expect(accepted.flat()).toEqual([]);
    const errors = await sendMany(clients.get('u5')!, `bob@${T1}`, 'u5', 10);
    expect(errors).toHaveLength(10);
    for (const e of errors) {
      expect(condition(e)).toBe('resource-constraint');
      expect(text(e)).toMatch(/waiting for this server/);
    }
  }, 60_000);

  it('a 495-byte domain is refused at once, never stored nor queued', async () => {
    const errors = await sendMany(clients.get('eve')!, `bob@${LONG}`, 'long', 3);
    expect(errors).toHaveLength(3);
    for (const e of errors) expect(condition(e)).toBe('remote-server-not-found');
    expect(a.stderr()).not.toMatch(/ENAMETOOLONG/);
    expect(proxy.requested).not.toContain(LONG);
  }, 30_000);

  it('after SIGKILL and a restart, every accepted message is still queued', async () => {
    for (const c of clients.values()) c.destroy();
    clients.clear();
    await a.kill('SIGKILL');
    a = await startChild({ s2s: true, dir: a.dir });
    const resumed = async (remote: string): Promise<number> =>
      Number((await a.waitForLog((l) => l.msg === 's2s: resuming delivery of queued messages' && l.remote === remote, 15_000)).queued);
    expect(await resumed(T1)).toBe(500);
    expect(await resumed(T2)).toBe(4);
  }, 30_000);
});
