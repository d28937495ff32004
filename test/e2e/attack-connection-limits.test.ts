// Attack 7 of issue 9: connection limits. Behind i2pd everyone is 127.0.0.1 and may open any
// number of connections, so Clove caps them globally (c2s_max_connections), caps those still
// logging in (c2s_max_unauthenticated), caps sessions per account (max_resources), and gives a
// connection c2s_timeout seconds to log in. Against a real child server with small caps:
//   - the connection over the unauthenticated cap gets our header and `resource-constraint`;
//     once one of the others goes, a new one is served again;
//   - a bind over max_resources gets the bind error `resource-constraint` (RFC 6120 §7.6.2.1),
//     the stream stays usable, and rebinding a resource already held is still allowed;
//   - the connection over c2s_max_connections gets `resource-constraint`;
//   - a connection that never logs in gets `connection-timeout` after c2s_timeout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { NS_BIND, NS_STANZAS, NS_STREAM_ERRORS, Wire, header, login, loginUnbound, ping, stanzaErrorCondition } from '../helpers/wire.js';

const MAX_CONNECTIONS = 6;
const MAX_UNAUTHENTICATED = 3;
const MAX_RESOURCES = 3;
const TIMEOUT_S = 2;

/** A TCP connection that sent its stream header and got features (or an error). */
async function opened(port: number): Promise<Wire> {
  const w = await Wire.connect(port);
  await w.write(header());
  await w.waitFor(() => w.elements.find((e) => e.name === 'stream:features' || e.name === 'stream:error'), 'features or a stream error');
  return w;
}

const errorOf = (w: Wire): string | undefined => w.elements.find((e) => e.name === 'stream:error')?.children.find((c) => typeof c !== 'string' && c.ns === NS_STREAM_ERRORS && c.name !== 'text')?.toString();

describe('connection limits (issue 9, attack 7)', () => {
  let child: ChildServer;

  beforeAll(async () => {
    child = await startChild({
      extra: [
        `c2s_max_connections = ${MAX_CONNECTIONS}`,
        `c2s_max_unauthenticated = ${MAX_UNAUTHENTICATED}`,
        `max_resources = ${MAX_RESOURCES}`,
        `c2s_timeout = ${TIMEOUT_S}`,
      ].join('\n'),
    });
    await addUsers(child.configPath, [['alice@localhost', 'alice-pass'], ['bob@localhost', 'bob-pass']]);
  });

  afterAll(async () => {
    if (child) {
      await child.kill('SIGTERM');
      await removeChildDir(child.dir);
    }
  });

  it(`the connection over ${MAX_UNAUTHENTICATED} unauthenticated ones gets resource-constraint; a freed slot serves again`, async () => {
    const waiting = await Promise.all(Array.from({ length: MAX_UNAUTHENTICATED }, () => opened(child.port)));
    for (const w of waiting) expect(errorOf(w), w.text).toBeUndefined();
    const over = await Wire.connect(child.port);
    await over.waitFor(() => over.isClosed || over.gotEnd, 'the server to close the connection over the cap');
    expect(over.headers).toHaveLength(1); // our header, then the error: RFC 6120 §4.9.1.1
    expect(errorOf(over)).toBe(`<resource-constraint xmlns="${NS_STREAM_ERRORS}"/>`);
    expect(over.elements.find((e) => e.name === 'stream:error')?.getChildText('text')).toMatch(/already logging in/);
    expect(over.streamEnded).toBe(true);
    waiting[0]!.destroy();
    await waiting[0]!.closed;
    const again = await Wire.connect(child.port);
    await again.write(header());
    // The server notices the freed slot when the socket's close reaches it: retry briefly.
    const served = await again.waitFor(() => again.elements.find((e) => e.name === 'stream:features' || e.name === 'stream:error'), 'features');
    expect(served.name, again.text).toBe('stream:features');
    for (const w of [...waiting, again, over]) w.destroy();
  });

  it(`a bind over max_resources (${MAX_RESOURCES}) gets resource-constraint; the stream stays usable`, async () => {
    await new Promise((r) => setTimeout(r, 200)); // the previous case's sockets are closed by now
    const sessions = [];
    for (let i = 0; i < MAX_RESOURCES; i++) sessions.push(await login(child.port, { user: 'alice', password: 'alice-pass', resource: `r${i}` }));
    const w = await loginUnbound(child.port, { user: 'alice', password: 'alice-pass' });
    const refused = await w.iq(`<iq type='set' id='b1'><bind xmlns='${NS_BIND}'><resource>r-over</resource></bind></iq>`, 'b1');
    expect(refused.attrs.type).toBe('error');
    expect(stanzaErrorCondition(refused)).toBe('resource-constraint');
    expect(refused.getChild('error')?.attrs.type).toBe('wait');
    expect(refused.getChild('error')?.getChild('resource-constraint', NS_STANZAS)).toBeDefined();
    // Taking over a resource the account already holds is not a new session: allowed.
    const rebound = await w.iq(`<iq type='set' id='b2'><bind xmlns='${NS_BIND}'><resource>r0</resource></bind></iq>`, 'b2');
    expect(rebound.attrs.type, rebound.toString()).toBe('result');
    expect((await ping(w)).attrs.type).toBe('result');
    // Once a session ends, a new bind succeeds.
    sessions[1]!.destroy();
    await sessions[1]!.closed;
    await new Promise((r) => setTimeout(r, 200));
    const later = await login(child.port, { user: 'alice', password: 'alice-pass', resource: 'r-later' });
    expect(later.jid).toBe('alice@localhost/r-later');
    for (const s of [...sessions, w, later]) s.destroy();
  });

  it(`the connection over c2s_max_connections (${MAX_CONNECTIONS}) gets resource-constraint`, async () => {
    await new Promise((r) => setTimeout(r, 300));
    const held = [];
    for (let i = 0; i < MAX_RESOURCES; i++) held.push(await login(child.port, { user: 'alice', password: 'alice-pass', resource: `a${i}` }));
    for (let i = 0; i < MAX_CONNECTIONS - MAX_RESOURCES; i++) held.push(await login(child.port, { user: 'bob', password: 'bob-pass', resource: `b${i}` }));
    const over = await Wire.connect(child.port);
    await over.waitFor(() => over.isClosed || over.gotEnd, 'the server to close the connection over the cap');
    expect(errorOf(over)).toBe(`<resource-constraint xmlns="${NS_STREAM_ERRORS}"/>`);
    expect(over.elements.find((e) => e.name === 'stream:error')?.getChildText('text')).toMatch(/maximum of 6 client connections/);
    for (const h of held) expect((await ping(h)).attrs.type).toBe('result');
    for (const h of [...held, over]) h.destroy();
  });

  it(`a connection that does not log in gets connection-timeout after c2s_timeout (${TIMEOUT_S} s)`, async () => {
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const w = await opened(child.port);
    await w.waitFor(() => w.elements.find((e) => e.name === 'stream:error'), 'the timeout', 10_000);
    expect(errorOf(w)).toBe(`<connection-timeout xmlns="${NS_STREAM_ERRORS}"/>`);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_S * 1000 - 100);
    expect(took).toBeLessThan(TIMEOUT_S * 1000 + 3000);
    w.destroy();
  });
});
