// Issue 9, attack 4: a hostile peer must not talk Clove's outbound s2s into sending in clear.
// With s2s_require_encryption and s2s_secure_auth on, A (a `clove start` child) federates
// through the test SOCKS5 proxy with fake peers scripted on raw sockets here:
//  - pre-1.0: a stream header without `version`, then "valid" to any dialback key;
//  - early: `<db:result type='valid'/>` right after the header, before features;
//  - mid-TLS: answers our `<starttls/>` with `<db:result type='valid'/>` instead of `<proceed/>`;
//  - wrong pair: required STARTTLS done, then "valid" for a from/to pair we never asked about.
// Each must end with a stream error, and no byte of the message body may reach the peer.
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { Wire, xmlEscape, match } from '../helpers/wire.js';
import { SocksProxy, darknetConfig } from '../helpers/socks-proxy.js';
import { ScriptedPeer, NS_DB as DB } from '../helpers/s2s-peer.js';

const b32 = (tag: string): string => `${tag}${'a'.repeat(52 - tag.length)}.b32.i2p`;
const A = b32('plainsender');
const NS_STREAMS = 'http://etherx.jabber.org/streams';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';

type Script = 'pre-1.0' | 'early' | 'mid-tls' | 'wrong-pair';

/** A hostile s2s peer: records every byte it receives (in clear or decrypted), all connections. */
class HostilePeer extends ScriptedPeer {
  received = '';

  private constructor(private readonly script: Script) {
    super();
  }

  static start(domain: string, script: Script): Promise<HostilePeer> {
    return new HostilePeer(script).listen(domain);
  }

  protected accept(raw: Socket): void {
    const d = this.listener.domain;
    let sock: Socket = raw;
    let secure = false;
    let seen = '';
    const write = (data: string): void => { if (!sock.destroyed) sock.write(data); };
    const head = (version: boolean): string => `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${NS_STREAMS}' xmlns:db='${DB}' id='h${Math.random().toString(36).slice(2)}' from='${d}'${version ? " version='1.0'" : ''}>`;
    const valid = (from = d, to = A): string => `<db:result xmlns:db='${DB}' from='${from}' to='${to}' type='valid'/>`;
    let step = 0;
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      this.received += text;
      seen += text;
      if (step === 0 && seen.includes('<stream:stream')) {
        step = 1;
        if (this.script === 'pre-1.0') write(head(false));
        else if (this.script === 'early') write(head(true) + valid() + `<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>`);
        else write(head(true) + `<stream:features><starttls xmlns='${NS_TLS}'><required/></starttls><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>`);
        return;
      }
      if (this.script === 'pre-1.0' && step === 1 && seen.includes('db:result')) {
        step = 2;
        write(valid());
      }
      if ((this.script === 'mid-tls' || this.script === 'wrong-pair') && step === 1 && seen.includes('starttls')) {
        step = 2;
        if (this.script === 'mid-tls') return write(valid());
        write(`<proceed xmlns='${NS_TLS}'/>`);
        sock = this.listener.upgrade(raw, onData);
        secure = true;
        seen = '';
        return;
      }
      if (this.script === 'wrong-pair' && secure && step === 2 && seen.includes('<stream:stream')) {
        step = 3;
        write(head(true) + `<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>`);
        return;
      }
      if (this.script === 'wrong-pair' && step === 3 && seen.includes('db:result')) {
        step = 4;
        write(valid(b32('someoneelse'), A) + valid(d, b32('notasked')));
      }
    };
    raw.on('data', onData);
  }
}

let proxy: SocksProxy;
let a: ChildServer;
let alice: Wire;
const peers = new Map<Script, HostilePeer>();
const SCRIPTS: Script[] = ['pre-1.0', 'early', 'mid-tls', 'wrong-pair'];

beforeAll(async () => {
  proxy = await SocksProxy.start();
  for (const s of SCRIPTS) peers.set(s, await HostilePeer.start(b32(`hostile${s.replace(/[^a-z]/g, '')}`), s));
  a = await startChild({
    s2s: true,
    extra: `${darknetConfig(proxy.port)}\ns2s_require_encryption = true\ns2s_secure_auth = true\ns2s_send_deadline = 4\ns2s_timeout = 4\ns2s_connect_timeout = 2`,
    hosts: `VirtualHost "${A}"`,
  });
  for (const p of peers.values()) proxy.map(p.domain, p.port);
  await addUsers(a.configPath, [[`alice@${A}`, 'alice-pw']]);
  alice = await Wire.login({ port: a.port, domain: A, username: 'alice', password: 'alice-pw', resource: 'r', timeoutMs: 10_000 });
}, 30_000);

afterAll(async () => {
  await alice?.close().catch(() => {});
  if (a) {
    await a.kill('SIGTERM');
    await removeChildDir(a.dir);
  }
  for (const p of peers.values()) await p.close();
  await proxy?.close();
});

describe('attack 4: no plaintext to a peer that cheats on the s2s state machine', () => {
  it('every cheating peer gets a stream error, the sender a bounce, and no body byte reaches a peer', async () => {
    const bodies = new Map<Script, string>();
    for (const script of SCRIPTS) {
      const body = `secret-${script}-${Math.random().toString(36).slice(2, 10)}`;
      bodies.set(script, body);
      alice.send(`<message to='bob@${peers.get(script)!.domain}' id='m-${script}' type='chat'><body>${xmlEscape(body)}</body></message>`);
    }
    // The senders hear about it (the streams failed: a bounce within the send deadline).
    const bounces = await Promise.allSettled(SCRIPTS.map((s) => alice.waitFor(match('message', { type: 'error', id: `m-${s}` }), 15_000)));
    const leaked = SCRIPTS.filter((s) => [...bodies.values(), 'bob@'].some((secret) => peers.get(s)!.received.includes(secret)));
    expect(leaked, 'peers that received a message in clear').toEqual([]);
    for (const script of SCRIPTS) expect(peers.get(script)!.received, script).toContain('<stream:error>');
    expect(bounces.map((b) => b.status)).toEqual(SCRIPTS.map(() => 'fulfilled'));
  }, 20_000);
});
