// Archive store benchmark: N messages archived for ONE owner in the file backend (segment
// files under a temp dir), then the archive opened in a fresh process and queried.
//
//   npm run build && node bench/archive.mjs [--items N] [--contacts K] [--queries Q]
//                                           [--in-flight F] [--no-write] [--keep-tmp]
//
// Phase 1 (one child process): append N chat-message stanzas (~330 bytes each) to alice's
// archive, F appends outstanding at a time (each resolves once its record is fdatasync'ed);
// reports messages/s, the event-loop delay seen meanwhile, and RSS at the end.
// Phase 2 (another child process): RSS before and after opening the archive (the open reads
// every segment to rebuild the index), the time to open, then Q timed queries of each shape:
//   "last 50 with X"          with = a contact's bare JID, <before/> (last page), max 50
//   "page of 50 before id"    no filter, before = a random archived id, max 50
//   "50 with X before id"     both: paging back through one contact's history
// Contacts follow a skewed distribution (half the messages go to 10 of them), and X is drawn
// uniformly over all contacts, so rare contacts (long scans without an index) are asked as
// often as frequent ones. Writes bench/RESULTS-archive.md unless --no-write.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt, latencySummary } from './lib/stats.mjs';

const { values: opt } = parseArgs({
  options: {
    items: { type: 'string', default: '1000000' },
    contacts: { type: 'string', default: '200' },
    queries: { type: 'string', default: '2000' },
    'in-flight': { type: 'string', default: '500' },
    'no-write': { type: 'boolean', default: false },
    'keep-tmp': { type: 'boolean', default: false },
    child: { type: 'string' },
    dir: { type: 'string' },
  },
});
const ITEMS = Number(opt.items);
const CONTACTS = Number(opt.contacts);
const QUERIES = Number(opt.queries);
const IN_FLIGHT = Number(opt['in-flight']);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const T0 = Date.UTC(2026, 0, 1);
const OWNER = 'alice';
const LIMITS = { maxItems: 100_000_000, maxBytes: 2 ** 40 };

const rssMiB = () => process.memoryUsage().rss / 2 ** 20;

/** Deterministic pseudo-random numbers (the same data on every run). */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Contact of message i: half of them among the first 10 contacts. */
function contactOf(r) {
  return r() < 0.5 ? Math.floor(r() * 10) : Math.floor(r() * CONTACTS);
}

const WORDS = 'the quick brown fox jumps over a lazy dog while we talk about i2p tunnels and xmpp servers'.split(' ');

function message(i, r, k) {
  let body = '';
  const n = 8 + Math.floor(r() * 12);
  for (let w = 0; w < n; w++) body += (w ? ' ' : '') + WORDS[Math.floor(r() * WORDS.length)];
  return (
    `<message xmlns='jabber:client' from='alice@example.net/phone' to='contact${k}@example.org' type='chat' id='m${i.toString(36)}'>` +
    `<body>${body}</body><origin-id xmlns='urn:xmpp:sid:0' id='o${i.toString(36)}'/>` +
    `<active xmlns='http://jabber.org/protocol/chatstates'/></message>`
  );
}

async function openStore(dir) {
  const { createFileBackend } = await import(pathToFileURL(path.join(HERE, '..', 'dist', 'storage', 'file.js')).href);
  const backend = createFileBackend(dir);
  return { backend, archive: backend.archive('example.net', 'archive', LIMITS) };
}

async function appendPhase(dir) {
  const { backend, archive } = await openStore(dir);
  const r = rng(1);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let payloadBytes = 0;
  const t0 = performance.now();
  let next = 0;
  let failed = 0;
  await new Promise((resolve) => {
    let running = 0;
    const pump = () => {
      while (running < IN_FLIGHT && next < ITEMS) {
        const i = next++;
        const k = contactOf(r);
        const payload = message(i, r, k);
        payloadBytes += payload.length;
        running++;
        archive
          .append(OWNER, { with: `contact${k}@example.org/res${i % 3}`, payload, when: T0 + i * 50 })
          .catch(() => failed++)
          .finally(() => {
            running--;
            if (next < ITEMS) pump();
            else if (running === 0) resolve();
          });
      }
    };
    pump();
  });
  const ms = performance.now() - t0;
  loop.disable();
  const meta = await archive.metadata(OWNER);
  const rss = rssMiB();
  await backend.close();
  return {
    ms,
    rate: ITEMS / (ms / 1000),
    failed,
    count: meta.count,
    bytes: meta.bytes,
    avgPayload: payloadBytes / ITEMS,
    loopP99: loop.percentile(99) / 1e6,
    loopMax: loop.max / 1e6,
    rss,
  };
}

async function queryPhase(dir) {
  globalThis.gc?.();
  const { backend, archive } = await openStore(dir);
  const rss0 = rssMiB();
  const t0 = performance.now();
  const meta = await archive.metadata(OWNER); // opens: reads every segment, builds the index
  const openMs = performance.now() - t0;
  const rssOpen = rssMiB();
  globalThis.gc?.();
  const rssOpenGc = rssMiB();
  const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
  const heapTotalMiB = process.memoryUsage().heapTotal / 2 ** 20;
  const arrayMiB = process.memoryUsage().arrayBuffers / 2 ** 20;
  const r = rng(7);
  const span = meta.last.when - meta.first.when;
  const randomId = async () => (await archive.query(OWNER, { start: meta.first.when + Math.floor(r() * span), limit: 1 })).items[0]?.id ?? meta.last.id;
  const ids = [];
  for (let i = 0; i < Math.min(QUERIES, 500); i++) ids.push(await randomId());
  const time = async (f) => {
    const out = [];
    let got = 0;
    for (let i = 0; i < QUERIES; i++) {
      const t = performance.now();
      got += (await f(i)).items.length;
      out.push(performance.now() - t);
    }
    return { ...latencySummary(out), avgItems: got / QUERIES };
  };
  const contact = () => `contact${Math.floor(r() * CONTACTS)}@example.org`;
  const lastWith = await time(() => archive.query(OWNER, { with: contact(), before: true, limit: 50 }));
  const beforeId = await time((i) => archive.query(OWNER, { before: ids[i % ids.length], limit: 50 }));
  const withBeforeId = await time((i) => archive.query(OWNER, { with: contact(), before: ids[i % ids.length], limit: 50 }));
  const rssEnd = rssMiB();
  await backend.close();
  return { count: meta.count, openMs, rss0, rssOpen, rssOpenGc, heapMiB, heapTotalMiB, arrayMiB, rssEnd, lastWith, beforeId, withBeforeId };
}

/** The file system type of the mount holding `dir` (longest matching mount point in /proc/mounts). */
function fsType(dir) {
  let best = { point: '', type: 'unknown fs' };
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, point, type] = line.split(' ');
    if (point && (dir === point || dir.startsWith(point.endsWith('/') ? point : `${point}/`)) && point.length > best.point.length) best = { point, type };
  }
  return best.type;
}

function runChild(phase, dir) {
  return new Promise((resolve, reject) => {
    const args = ['--expose-gc', fileURLToPath(import.meta.url), '--child', phase, '--dir', dir, '--items', String(ITEMS), '--contacts', String(CONTACTS), '--queries', String(QUERIES), '--in-flight', String(IN_FLIGHT)];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${phase} child exited with ${code}`))));
  });
}

if (opt.child) {
  const result = opt.child === 'append' ? await appendPhase(opt.dir) : await queryPhase(opt.dir);
  process.stdout.write(JSON.stringify(result));
  process.exit(0);
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'clove-bench-archive-'));
const loadStart = os.loadavg()[0];
try {
  console.log(`[archive] appending ${fmt(ITEMS)} messages for one owner (${IN_FLIGHT} in flight) in ${dir}`);
  const ap = await runChild('append', dir);
  console.log(`[archive] ${fmt(ap.rate)} msg/s; opening and querying in a fresh process`);
  const q = await runChild('query', dir);
  const row = (name, s) => `| ${name} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} | ${fmt(s.max, 2)} | ${fmt(s.avgItems, 1)} |`;
  const perItem = ((q.rssOpenGc - q.rss0) * 2 ** 20) / q.count;
  const out = [
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${os.release()}; Node ${process.version}; temp dir on ${os.tmpdir()} (${fsType(dir)})`,
    `- Load average (1 min) at start / end: ${loadStart.toFixed(1)} / ${os.loadavg()[0].toFixed(1)} (the machine is shared; figures vary with it)`,
    `- Data: ${fmt(ITEMS)} chat messages for one owner, average payload ${fmt(ap.avgPayload)} bytes, ${CONTACTS} contacts (half the messages to 10 of them), 3 resources each; ${fmt(ap.bytes / 2 ** 20, 1)} MiB of records`,
    '',
    '| | |',
    '|---|---:|',
    `| append throughput (msg/s, ${IN_FLIGHT} in flight, each acknowledged after fdatasync) | ${fmt(ap.rate)} |`,
    `| append wall time (s) | ${fmt(ap.ms / 1000, 1)} |`,
    `| event-loop delay during appends p99 / max (ms) | ${fmt(ap.loopP99, 1)} / ${fmt(ap.loopMax, 1)} |`,
    `| items stored / failed appends | ${fmt(ap.count)} / ${fmt(ap.failed)} |`,
    `| RSS at the end of the appends (MiB) | ${fmt(ap.rss, 1)} |`,
    `| open (summaries of closed segments, scan of the last one, index built) (ms) | ${fmt(q.openMs)} |`,
    `| RSS before open / after open / after open + GC (MiB) | ${fmt(q.rss0, 1)} / ${fmt(q.rssOpen, 1)} / ${fmt(q.rssOpenGc, 1)} |`,
    `| RSS cost of the opened archive (bytes per item, after GC) | ${fmt(perItem, 1)} |`,
    `| JS heap used / heap total / ArrayBuffers after open (MiB) | ${fmt(q.heapMiB, 1)} / ${fmt(q.heapTotalMiB, 1)} / ${fmt(q.arrayMiB, 1)} |`,
    `| RSS after all queries (MiB) | ${fmt(q.rssEnd, 1)} |`,
    '',
    `${fmt(QUERIES)} queries of each shape, one at a time, on the opened archive (ms):`,
    '',
    '| query | p50 | p99 | max | items/page |',
    '|---|---:|---:|---:|---:|',
    row('last 50 with X (bare JID, `<before/>`)', q.lastWith),
    row('page of 50 before id', q.beforeId),
    row('50 with X before id', q.withBeforeId),
  ];
  console.log(out.join('\n'));
  if (!opt['no-write']) {
    const cmd = `node bench/archive.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}`;
    await writeFile(path.join(HERE, 'RESULTS-archive.md'), `# Archive store: 1M messages for one owner\n\n- Command: \`npm run build && ${cmd}\`\n${out.join('\n')}\n`);
  }
} finally {
  if (!opt['keep-tmp']) await rm(dir, { recursive: true, force: true });
}
