// Attack 7 of issue 9: connection limits. Behind i2pd everyone is 127.0.0.1 and may open any
// number of connections, so Clove caps them globally (c2s_max_connections), caps those still
// logging in (c2s_max_unauthenticated), caps sessions per account (max_resources), and gives a
// connection c2s_timeout seconds to log in. Against a real child server with small caps:
//   - the connection over the unauthenticated cap gets our header and `resource-constraint`;
//     once one of the others goes, a new one is served again;
//   - a bind over max_resources gets the bind error `resource-constraint` (RFC 6120 §7.6.2.1),
//     the stream stays usable, and rebinding a resource already held is still allowed;
//   - the connection over c2s_max_connections gets `resource-constraint`;
//   - the incoming server connection over s2s_max_unauthenticated gets `resource-constraint`;
//   - a connection that never logs in gets `connection-timeout` after c2s_timeout.
import { afterEach, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { NS_BIND, NS_STANZAS, NS_STREAMS, NS_STREAM_ERRORS, Wire, header, ping, stanzaErrorCondition } from '../helpers/wire.js';

const MAX_CONNECTIONS = 6;
const MAX_UNAUTHENTICATED = 3;
const MAX_RESOURCES = 3;
const TIMEOUT_S = 2;

/** A TCP connection that sent its stream header and got features (or an error). */
async function opened(port: number): Promise<Wire> {
  const w = await Wire.connect(port);
  await w.write(header());
  await w.until(() => w.received.find((e) => e.name === 'stream:features' || e.name === 'stream:error'), 'features or a stream error');
  return w;
}

const errorOf = (w: Wire): string | undefined => w.received.find((e) => e.name === 'stream:error')?.children.find((c) => typeof c !== 'string' && c.xmlns === NS_STREAM_ERRORS && c.name !== 'text')?.toString();

/**
 * `attempt` until it returns something, for at most 5 s: the server frees a slot when a closed
 * socket's end reaches it, which on a loaded machine may come after the client's close resolves.
 */
async function eventually<T>(attempt: () => Promise<T | undefined>, what: string): Promise<T> {
  const until = Date.now() + 5000;
  for (;;) {
    const r = await attempt();
    if (r !== undefined) return r;
    if (Date.now() > until) throw new Error(`${what}: still refused after 5 s`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

describe('connection limits (issue 9, attack 7)', () => {
  // A fresh server per case, so no case sees another's connections still closing.
  let child: ChildServer | undefined;

  async function limitedServer(extra: string[], s2s = false): Promise<ChildServer> {
    child = await startChild({ extra: extra.join('\n'), s2s });
    await addUsers(child.configPath, [['alice@localhost', 'alice-pass'], ['bob@localhost', 'bob-pass']]);
    return child;
  }
  const CAPS = [`c2s_max_connections = ${MAX_CONNECTIONS}`, `c2s_max_unauthenticated = ${MAX_UNAUTHENTICATED}`, `max_resources = ${MAX_RESOURCES}`];

  afterEach(async () => {
    if (child) {
      await child.kill('SIGTERM');
      await removeChildDir(child.dir);
      child = undefined;
    }
  });

  it(`the connection over ${MAX_UNAUTHENTICATED} unauthenticated ones gets resource-constraint; a freed slot serves again`, async () => {
    const child = await limitedServer(CAPS);
    const waiting = await Promise.all(Array.from({ length: MAX_UNAUTHENTICATED }, () => opened(child.port)));
    for (const w of waiting) expect(errorOf(w), w.text).toBeUndefined();
    const over = await Wire.connect(child.port);
    await over.until(() => over.isClosed || over.gotEnd, 'the server to close the connection over the cap');
    expect(over.headers).toHaveLength(1); // our header, then the error: RFC 6120 §4.9.1.1
    expect(errorOf(over)).toBe(`<resource-constraint xmlns="${NS_STREAM_ERRORS}"/>`);
    expect(over.received.find((e) => e.name === 'stream:error')?.getChildText('text')).toMatch(/already logging in/);
    expect(over.streamEnded).toBe(true);
    waiting[0]!.destroy();
    await waiting[0]!.whenClosed;
    const again = await eventually(async () => {
      const w = await opened(child.port);
      if (errorOf(w) === undefined) return w;
      w.destroy();
      return undefined;
    }, 'a connection after a freed slot');
    expect(again.received.some((e) => e.name === 'stream:features'), again.text).toBe(true);
    for (const w of [...waiting, again, over]) w.destroy();
  });

  it(`a bind over max_resources (${MAX_RESOURCES}) gets resource-constraint; the stream stays usable`, async () => {
    const child = await limitedServer(CAPS);
    const sessions = [];
    for (let i = 0; i < MAX_RESOURCES; i++) sessions.push(await Wire.login({ port: child.port, username: 'alice', password: 'alice-pass', resource: `r${i}` }));
    const w = await Wire.login({ port: child.port, bind: false, username: 'alice', password: 'alice-pass' });
    const refused = await w.iq(`<iq type='set' id='b1'><bind xmlns='${NS_BIND}'><resource>r-over</resource></bind></iq>`);
    expect(refused.attrs.type).toBe('error');
    expect(stanzaErrorCondition(refused)).toBe('resource-constraint');
    expect(refused.getChild('error')?.attrs.type).toBe('wait');
    expect(refused.getChild('error')?.getChild('resource-constraint', NS_STANZAS)).toBeDefined();
    // Taking over a resource the account already holds is not a new session: allowed.
    const rebound = await w.iq(`<iq type='set' id='b2'><bind xmlns='${NS_BIND}'><resource>r0</resource></bind></iq>`);
    expect(rebound.attrs.type, rebound.toString()).toBe('result');
    expect((await ping(w)).attrs.type).toBe('result');
    // Once a session ends, a new bind succeeds.
    sessions[1]!.destroy();
    await sessions[1]!.whenClosed;
    const later = await eventually(async () => {
      const u = await Wire.login({ port: child.port, bind: false, username: 'alice', password: 'alice-pass' });
      const bound = await u.iq(`<iq type='set' id='b3'><bind xmlns='${NS_BIND}'><resource>r-later</resource></bind></iq>`);
      if (bound.attrs.type === 'result') return { w: u, jid: bound.getChild('bind', NS_BIND)?.getChildText('jid') };
      u.destroy();
      return undefined;
    }, 'a bind after a session ended');
    expect(later.jid).toBe('alice@localhost/r-later');
    expect(later.jid).toBe('alice@localhost/r-later');
    for (const s of [...sessions, w, later.w]) s.destroy();
  });

  it(`the connection over c2s_max_connections (${MAX_CONNECTIONS}) gets resource-constraint`, async () => {
    const child = await limitedServer(CAPS);
    const held = [];
    for (let i = 0; i < MAX_RESOURCES; i++) held.push(await Wire.login({ port: child.port, username: 'alice', password: 'alice-pass', resource: `a${i}` }));
    for (let i = 0; i < MAX_CONNECTIONS - MAX_RESOURCES; i++) held.push(await Wire.login({ port: child.port, username: 'bob', password: 'bob-pass', resource: `b${i}` }));
    const over = await Wire.connect(child.port);
    await over.until(() => over.isClosed || over.gotEnd, 'the server to close the connection over the cap');
    expect(errorOf(over)).toBe(`<resource-constraint xmlns="${NS_STREAM_ERRORS}"/>`);
    expect(over.received.find((e) => e.name === 'stream:error')?.getChildText('text')).toMatch(/maximum of 6 client connections/);
    for (const h of held) expect((await ping(h)).attrs.type).toBe('result');
    for (const h of [...held, over]) h.destroy();
  });

  it('the incoming server connection over s2s_max_unauthenticated gets resource-constraint, in jabber:server', async () => {
    const child = await limitedServer(['s2s_max_unauthenticated = 2', 's2s_max_connections = 5'], true);
    const s2sHeader = `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS_STREAMS}' xmlns:db='jabber:server:dialback' to='localhost' version='1.0'>`;
    const waiting = [];
    for (let i = 0; i < 2; i++) {
      const w = await Wire.connect(child.s2sPort);
      await w.write(s2sHeader);
      await w.until(() => w.received.find((e) => e.name === 'stream:features' || e.name === 'stream:error'), 'features');
      expect(errorOf(w), w.text).toBeUndefined();
      waiting.push(w);
    }
    const over = await Wire.connect(child.s2sPort);
    await over.until(() => over.isClosed || over.gotEnd, 'the server to close the connection over the cap');
    expect(over.text).toContain("xmlns='jabber:server'");
    expect(errorOf(over)).toBe(`<resource-constraint xmlns="${NS_STREAM_ERRORS}"/>`);
    // A flood of refusals is one log line, not one per connection.
    for (let i = 0; i < 5; i++) {
      const more = await Wire.connect(child.s2sPort);
      await more.until(() => more.isClosed || more.gotEnd, 'refusal');
      more.destroy();
    }
    const lines = child.logs().filter((l) => l.msg.startsWith('s2s connections refused'));
    expect(lines).toHaveLength(1);
    for (const w of [...waiting, over]) w.destroy();
  });

  it(`a connection that does not log in gets connection-timeout after c2s_timeout (${TIMEOUT_S} s)`, async () => {
    const child = await limitedServer([`c2s_timeout = ${TIMEOUT_S}`]);
    const t0 = Date.now();
    const w = await opened(child.port);
    await w.until(() => w.received.find((e) => e.name === 'stream:error'), 'the timeout', 10_000);
    expect(errorOf(w)).toBe(`<connection-timeout xmlns="${NS_STREAM_ERRORS}"/>`);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_S * 1000 - 100);
    expect(took).toBeLessThan(TIMEOUT_S * 1000 + 3000);
    w.destroy();
  });
});
