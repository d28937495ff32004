// Worst case memory per hostile connection (docs/limits.md), against a real Clove process; prints
// the server's RSS growth (from /proc) per connection.
//
//   npm run build && node bench/worst-case-memory.mjs [connections=100] [shape=attrs|elements|text]
//   npm run build && node bench/worst-case-memory.mjs [sessions=10] hibernating
//
// Before login: N connections each hold the costliest thing a peer can make the server keep, an
// unfinished stanza just under the size and element caps, built as a tree while it arrives and
// kept until c2s_timeout. Shapes: attrs = elements carrying 63 attributes each, elements = 4,000
// empty <a> then text, text = one body of text.
// hibernating: N sessions of one account enable XEP-0198 resumption and drop their sockets; another
// client then sends each ~7.5 MiB of messages, which wait in its queue (bound: 8 MiB estimated).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { login } from './lib/xmpp.mjs';

const N = Number(process.argv[2] ?? 100);
const SHAPE = process.argv[3] ?? 'attrs';
const LIMIT = 256 * 1024;
const root = new URL('..', import.meta.url).pathname;

function partialStanza(shape) {
  let s = "<message to='x@localhost'>";
  if (shape === 'attrs') {
    const names = [];
    for (let i = 0; names.length < 63; i++) names.push(String.fromCharCode(97 + (i % 26)) + (i >= 26 ? String.fromCharCode(97 + Math.floor(i / 26)) : ''));
    const el = `<e ${names.map((n) => `${n}=''`).join(' ')}/>`;
    while (s.length + el.length < LIMIT - 64) s += el;
  } else if (shape === 'elements') {
    s += '<a/>'.repeat(4000);
    s += 'x'.repeat(LIMIT - 64 - s.length);
  } else {
    s += '<body>' + 'x'.repeat(LIMIT - 64 - s.length - 6);
  }
  return s; // never closed
}

/** N sessions of one account hibernate; another client fills each one's queue. Returns a summary. */
async function hibernating(port, pid) {
  const users = ['victim p1', 'sender p2'];
  const r = spawnSync(process.execPath, [join(root, 'bin/clove.js'), '--config', config, 'adduser', '--batch'], { input: users.map((u) => `${u.split(' ')[0]}@localhost ${u.split(' ')[1]}\n`).join('') });
  if (r.status !== 0) throw new Error(String(r.stderr));
  const sessions = [];
  for (let i = 0; i < N; i++) {
    const c = await login({ host: '127.0.0.1', port, domain: 'localhost', user: 'victim', password: 'p1' });
    c.write("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    for (;;) if ((await c.element()).name === 'enabled') break;
    c.write('<presence/>');
    sessions.push(c);
  }
  const sender = await login({ host: '127.0.0.1', port, domain: 'localhost', user: 'sender', password: 'p2' });
  await sleep(500);
  const before = await rss(pid);
  for (const c of sessions) c.sock.destroy();
  await sleep(500);
  const body = 'y'.repeat(64 * 1024);
  for (let k = 0; k < 115; k++) for (const c of sessions) sender.write(`<message to='${c.jid}' type='chat'><body>${body}</body></message>`);
  await sender.iq("<iq type='get' id='done'><ping xmlns='urn:xmpp:ping'/></iq>", 'done');
  await sleep(2000);
  const after = await rss(pid);
  sender.close();
  return { sessions: N, mode: 'hibernating', queuedPerSessionMiB: +((115 * 64 * 1024) / 2 ** 20).toFixed(1), rssBeforeMiB: +(before / 2 ** 20).toFixed(1), rssAfterMiB: +(after / 2 ** 20).toFixed(1), perSessionKiB: Math.round((after - before) / N / 1024) };
}

const rss = async (pid) => Number(/^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = await mkdtemp(join(tmpdir(), 'clove-worst-'));
const config = join(dir, 'clove.cfg.lua');
await writeFile(config, [
  'interfaces = { "127.0.0.1" }', 'c2s_ports = { 0 }', 's2s_ports = { }', 'run_as_root = true',
  `data_path = ${JSON.stringify(join(dir, 'data'))}`, `certificates = ${JSON.stringify(join(tmpdir(), 'clove-test-certs'))}`,
  'log = "warn"', 'limits = { c2s = { rate = "1gb/s" } }', `c2s_max_unauthenticated = ${N + 10}`, 'VirtualHost "localhost"', '',
].join('\n').replace('log = "warn"', 'log = "info"'));
const child = spawn(process.execPath, [join(root, 'bin/clove.js'), 'start', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
const port = await new Promise((resolve, reject) => {
  let buf = '';
  child.stderr.on('data', (d) => {
    buf += d;
    const m = /c2s listening on 127\.0\.0\.1:(\d+)/.exec(buf);
    if (m) resolve(Number(m[1]));
  });
  child.once('exit', () => reject(new Error(buf)));
});
try {
  if (SHAPE === 'hibernating') {
    console.log(JSON.stringify(await hibernating(port, child.pid)));
    process.exitCode = 0;
  } else {
  await sleep(500);
  const before = await rss(child.pid);
  const data = partialStanza(SHAPE);
  const header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='localhost' version='1.0'>";
  const sockets = [];
  for (let i = 0; i < N; i++) {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => {});
    s.on('data', () => {});
    s.write(header + data);
    sockets.push(s);
  }
  await sleep(3000);
  const after = await rss(child.pid);
  const closedEarly = sockets.filter((s) => s.destroyed || s.readableEnded).length;
  const per = (after - before) / N;
  console.log(JSON.stringify({ connections: N, shape: SHAPE, stanzaBytes: Buffer.byteLength(data), rssBeforeMiB: +(before / 2 ** 20).toFixed(1), rssAfterMiB: +(after / 2 ** 20).toFixed(1), perConnectionKiB: Math.round(per / 1024), closedEarly }));
  for (const s of sockets) s.destroy();
  }
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await rm(dir, { recursive: true, force: true });
}
