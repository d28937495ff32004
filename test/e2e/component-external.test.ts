// External components (XEP-0114) against a real `clove start` child: slixmpp's ComponentXMPP
// connects with its secret, gets a message from a logged-in user and answers it; a wrong secret
// gets not-authorized; a second connection gets conflict; while it is gone, stanzas bounce; and
// raw streams check host-unknown and invalid-from. The child listens on 127.0.0.1 port 0.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Wire, match } from '../helpers/wire.js';
import { PythonProcess, type Line } from '../helpers/slixmpp.js';
import { closedWith, componentHandshake, openComponentStream } from '../helpers/component-wire.js';

const COMPONENT = fileURLToPath(new URL('./py/component.py', import.meta.url));
const SECRET = 'gateway secret 1';
const HOSTS = `VirtualHost "localhost"\nComponent "gateway.localhost"\n  component_secret = "${SECRET}"\nComponent "nosecret.localhost"\n`;

let c: ChildServer;
const pythons: PythonProcess[] = [];
const clients: Wire[] = [];

beforeAll(async () => {
  c = await startChild({ extra: 'component_ports = { 0 }', hosts: HOSTS, component: true });
  await addUsers(c.configPath, [['alice@localhost', 'alice-pw']]);
}, 30_000);

afterAll(async () => {
  for (const p of pythons) await p.kill();
  for (const cl of clients) cl.destroy();
  if (c) {
    await c.kill('SIGKILL');
    await removeChildDir(c.dir);
  }
});

/** Start the slixmpp component with `secret`. */
function component(secret: string): PythonProcess {
  const p = new PythonProcess(COMPONENT, { args: ['--host', '127.0.0.1', '--port', String(c.componentPort), '--jid', 'gateway.localhost', '--secret', secret], timeoutMs: 30_000 });
  pythons.push(p);
  return p;
}

const event = (name: string) => (l: Line): boolean => l.event === name;

async function alice(): Promise<Wire> {
  const cl = await Wire.login({ port: c.port, username: 'alice', password: 'alice-pw', resource: 'r', timeoutMs: 8000 });
  clients.push(cl);
  return cl;
}

describe('an external component written with slixmpp ComponentXMPP', () => {
  it('connects with its secret, receives a message from a local user and answers it', async () => {
    const comp = component(SECRET);
    await comp.waitLine(event('session_start'), 'handshake accepted', 15_000);
    const a = await alice();
    a.send(`<message to='bot@gateway.localhost' type='chat' id='m1'><body>hello gateway</body></message>`);
    const got = await comp.waitLine(event('message'), 'the message', 10_000);
    expect(got).toMatchObject({ from: 'alice@localhost/r', to: 'bot@gateway.localhost', body: 'hello gateway' });
    const answer = await a.waitFor(match('message', { from: 'bot@gateway.localhost' }), 10_000);
    expect(answer.getChildText('body')).toBe('echo: hello gateway');
  }, 40_000);

  it('refuses a second connection for the connected component with conflict', async () => {
    const w = await openComponentStream(c.componentPort, 'gateway.localhost');
    expect(await componentHandshake(w, SECRET)).toBe(false);
    expect(await closedWith(w)).toBe('conflict');
  });

  it('refuses every handshake with not-authorized for a component with no component_secret', async () => {
    const w = await openComponentStream(c.componentPort, 'nosecret.localhost');
    expect(await componentHandshake(w, 'anything')).toBe(false);
    expect(await closedWith(w)).toBe('not-authorized');
  });

  it('gives a wrong secret not-authorized (as slixmpp reports it)', async () => {
    const bad = component('not the secret');
    const err = await bad.waitLine(event('stream_error'), 'the stream error', 15_000);
    expect(err.condition).toBe('not-authorized');
    await bad.waitLine(event('disconnected'), 'the end of the stream', 15_000);
    expect(bad.lines.some(event('session_start'))).toBe(false);
  }, 30_000);

  it('bounces stanzas while the component is not connected; a raw stream with a foreign from gets invalid-from', async () => {
    for (const p of pythons) await p.finish();
    const a = await alice();
    a.send(`<message to='bot@gateway.localhost' type='chat' id='m2'><body>anyone?</body></message>`);
    const bounce = await a.waitFor(match('message', { type: 'error', id: 'm2' }), 10_000);
    expect(bounce.getChild('error')?.elements()[0]?.name).toBe('remote-server-timeout');

    const w = await openComponentStream(c.componentPort, 'gateway.localhost');
    expect(await componentHandshake(w, SECRET)).toBe(true);
    w.send(`<message from='bot@localhost' to='alice@localhost' type='chat'><body>forged</body></message>`);
    expect(await closedWith(w)).toBe('invalid-from');
    await a.expectNothing(match('message', { from: 'bot@localhost' }), 300);
  }, 30_000);

  it('is bounded like any stream: an oversized element before the handshake gets policy-violation', async () => {
    const w = await openComponentStream(c.componentPort, 'gateway.localhost');
    w.send(`<handshake>${'a'.repeat(600 * 1024)}</handshake>`);
    expect(await closedWith(w)).toBe('policy-violation');
  });

  it('answers a stanza without a to address with bad-request, and keeps the stream', async () => {
    const w = await openComponentStream(c.componentPort, 'gateway.localhost');
    expect(await componentHandshake(w, SECRET)).toBe(true);
    w.send(`<iq type='get' id='q1' from='gateway.localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await w.waitFor(match('iq', { type: 'error', id: 'q1' }, (el) => el.getChild('error')?.getChild('bad-request') !== undefined));
    w.send(`<iq type='get' id='q2' from='gateway.localhost' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await w.waitFor(match('iq', { type: 'result', id: 'q2' }));
    w.destroy();
    await w.whenClosed;
  });

  it('answers a stream to a domain that is not an external component with host-unknown', async () => {
    for (const domain of ['localhost', 'elsewhere.example']) {
      const w = await openComponentStream(c.componentPort, domain);
      expect(await closedWith(w)).toBe('host-unknown');
    }
  });

  it('keeps clients off the component domain (host-unknown) and adduser refuses it', async () => {
    await expect(Wire.open({ port: c.port, domain: 'gateway.localhost' })).rejects.toThrow(/host-unknown/);
    await expect(addUsers(c.configPath, [['bob@gateway.localhost', 'pw']])).rejects.toThrow(/gateway\.localhost is a Component .*: components have no accounts/);
  });
});
