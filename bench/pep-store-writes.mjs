// Bytes written per PEP publish (issue 11, "map store writes"): one account holds N other nodes
// (by default 240 of 30 KiB each: ~7 MiB, just under pep_max_bytes = 8 MiB), then P publishes of
// a ~1 KiB item go to one more node through the real pubsub engine and the file backend. The
// bytes come from the kernel's count of what this process wrote (/proc/self/io `wchar`: every
// write(2), temp files and logs included; nothing else writes meanwhile), and the fsyncs are
// counted too (fsync and fdatasync calls are not in /proc, so the figure is the bytes only).
//
//   npm run build && node bench/pep-store-writes.mjs [nodes] [publishes] [node KiB]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createFileBackend } from '../dist/storage/file.js';
import { PubsubEngine } from '../dist/modules/pubsub/engine.js';
import { x } from '../dist/xml/element.js';

const NODES = Number(process.argv[2] ?? 240);
const PUBLISHES = Number(process.argv[3] ?? 50);
const NODE_KIB = Number(process.argv[4] ?? 30);
const LIMITS = { maxItems: 256, itemBytes: 256 * 1024, nodes: 100000, serviceBytes: 1024 * 1024 * 1024, subscribers: 1000 };

/** Bytes this process has passed to write(2) so far. */
async function wchar() {
  const io = await readFile('/proc/self/io', 'utf8');
  return Number(/^wchar: (\d+)$/m.exec(io)[1]);
}

const dir = await mkdtemp(join(tmpdir(), 'clove-pep-store-bench-'));
try {
  const backend = createFileBackend(dir);
  const engine = new PubsubEngine(backend.map('localhost', 'pep'), LIMITS, () => undefined);
  const payload = (n, bytes) => x('item', { id: 'current' }, x('data', { xmlns: 'urn:bench', n: String(n) }, 'p'.repeat(bytes)));
  for (let i = 0; i < NODES; i++) await engine.publish('alice', `other-node-${i}`, payload(i, NODE_KIB * 1024), 'alice@localhost');
  await backend.close();

  // A fresh backend (as after a restart): nothing cached, the account's data as stored.
  const b2 = createFileBackend(dir);
  const e2 = new PubsubEngine(b2.map('localhost', 'pep'), LIMITS, () => undefined);
  await e2.publish('alice', 'mine', payload(-1, 1000), 'alice@localhost'); // the node exists before the count starts
  const before = await wchar();
  const t0 = performance.now();
  for (let i = 0; i < PUBLISHES; i++) await e2.publish('alice', 'mine', payload(i, 1000), 'alice@localhost');
  const ms = performance.now() - t0;
  const written = (await wchar()) - before;
  await b2.close();
  const itemBytes = payload(0, 1000).toString().length;
  console.log(`account: ${NODES} other nodes of ${NODE_KIB} KiB (~${((NODES * NODE_KIB) / 1024).toFixed(1)} MiB); ${PUBLISHES} publishes of a ${itemBytes}-byte item to one node`);
  console.log(`bytes written per publish: ${Math.round(written / PUBLISHES)} (total ${written}), ${(ms / PUBLISHES).toFixed(2)} ms per publish`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
