// Worst case memory per hostile connection (docs/limits.md): N connections to a real Clove
// process each hold the costliest thing a peer can make the server keep before logging in, an
// unfinished stanza just under the size and element caps, built as a tree while it arrives and
// kept until c2s_timeout. Prints the server's RSS growth (from /proc) per connection.
//
//   npm run build && node bench/worst-case-memory.mjs [connections=100] [shape=attrs|elements|text]
//
// Shapes: attrs = elements carrying 64 one-letter attributes each (the most heap per byte),
// elements = 4,000 empty <a> then text, text = one body of text.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await rm(dir, { recursive: true, force: true });
}
