#!/usr/bin/env node
// Cost of one publish on the pubsub engine (PEP and the pubsub component share it) when the
// service already holds much: the service byte limit (pep_max_bytes / pubsub_max_bytes) used to
// be checked by serialising every node of the service on each publish; it is now a running
// count. In-process, no sockets: a service with `--nodes` nodes filled to `--service-kib` KiB,
// then `--publishes` publishes of a 1 KiB item to one of them, on three stores: `objects` (a map
// store that keeps values as they are: the engine's own cost alone), `memory` (the memory
// backend, which parses and serialises a user's whole map on each get and set) and `file` (what a
// server pays: the file backend rewrites the whole map, fsync included). Reports CPU and wall
// time per publish. `--dist` picks the build to measure (a build of an older commit
// compares before and after). See bench/README.md ("Pubsub publish cost").
//
//   node bench/pubsub-publish.mjs [--dist DIR] [--nodes N] [--service-kib K] [--publishes P]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const dist = path.resolve(opt('dist', path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'dist')));
const nodes = Number(opt('nodes', 64));
const serviceKiB = Number(opt('service-kib', 4096));
const publishes = Number(opt('publishes', 300));

const load = (rel) => import(pathToFileURL(path.join(dist, rel)).href);
const { PubsubEngine } = await load('modules/pubsub/engine.js');
const { x } = await load('xml/element.js');
const { createMemoryBackend } = await load('storage/memory.js');
const { createFileBackend } = await load('storage/file.js');

const limits = { maxItems: 256, itemBytes: 256 * 1024, nodes: 1000, serviceBytes: 64 * 1024 * 1024, subscribers: 1000 };
const payload = (bytes, i) => x('item', { id: `i${i}` }, x('data', { xmlns: 'urn:bench' }, 'x'.repeat(bytes)));

/** The filled service as stored: built once on the memory backend, then written whole to each store. */
async function filled() {
  const store = createMemoryBackend().map('bench.localhost', 'pubsub');
  const engine = new PubsubEngine(store, limits, () => undefined);
  // Each node keeps `perNode` items of 4 KiB until the service holds service-kib.
  const perNode = Math.max(1, Math.round((serviceKiB * 1024) / nodes / 4096));
  for (let n = 0; n < nodes; n++) {
    await engine.create('alice', `node${n}`, { max_items: Math.min(256, perNode) });
    for (let i = 0; i < perNode; i++) await engine.publish('alice', `node${n}`, payload(4000, i), 'alice@bench.localhost');
  }
  return store.getAll('alice');
}
const service = await filled();

async function run(label, backend) {
  const store = backend.map('bench.localhost', 'pubsub');
  await store.setAll('alice', service);
  const engine = new PubsubEngine(store, limits, () => undefined);
  const svc = 'alice';
  await engine.create(svc, 'hot', { max_items: 1 });
  await engine.publish(svc, 'hot', payload(1024, -1), 'alice@bench.localhost'); // warm-up
  const times = [];
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < publishes; i++) {
    const s = process.hrtime.bigint();
    await engine.publish(svc, 'hot', payload(1024, i), 'alice@bench.localhost');
    times.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1000 / publishes;
  const cpu = process.cpuUsage(cpu0);
  times.sort((a, b) => a - b);
  const stored = JSON.stringify(await store.getAll(svc)).length;
  console.log(`${label.padEnd(7)} service ${(stored / 1024 / 1024).toFixed(2)} MiB in ${nodes + 1} nodes: ` +
    `${((cpu.user + cpu.system) / publishes).toFixed(0)} µs CPU, ${wall.toFixed(0)} µs wall per publish ` +
    `(p50 ${times[Math.floor(publishes / 2)].toFixed(0)} µs, p99 ${times[Math.floor(publishes * 0.99)].toFixed(0)} µs), ${publishes} publishes`);
}

/** A map store without serialising: values kept as given (the engine never mutates what it stores). */
const objects = {
  map: () => {
    const users = new Map();
    const all = (u) => users.get(u) ?? new Map();
    return {
      get: async (u, k) => all(u).get(k),
      getAll: async (u) => Object.fromEntries(all(u)),
      set: async (u, k, v) => { const m = all(u); if (v === undefined) m.delete(k); else m.set(k, v); users.set(u, m); },
      setAll: async (u, a) => { users.set(u, new Map(Object.entries(a ?? {}))); },
    };
  },
};

console.log(`build: ${dist}`);
await run('objects', objects);
await run('memory', createMemoryBackend());
const dir = await mkdtemp(path.join(tmpdir(), 'clove-bench-pubsub-'));
try {
  const backend = createFileBackend(dir);
  await run('file', backend);
  await backend.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
