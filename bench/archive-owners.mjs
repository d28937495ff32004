// Archive store benchmark, many owners: K owners of one store each keep ONE append in flight
// (what the mam module does: one message at a time per stream, the sender's and the
// recipient's archives), for a fixed time; reports appends/s (each acknowledged once durable),
// the process's CPU time per append (all threads) and its write system calls per append (from
// /proc/self/io: less sensitive to a busy machine than the rate).
// Shows what group commit across owners (the store's journal) gives over per-owner commits.
//
//   npm run build && node bench/archive-owners.mjs [--owners 40,100,200] [--seconds 5]
//                                                  [--module <path to a built storage/file.js>]
//
// --module runs another build (e.g. of the commit before, for a before/after comparison).

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    owners: { type: 'string', default: '40,100,200' },
    seconds: { type: 'string', default: '5' },
    module: { type: 'string' },
  },
});
const HERE = path.dirname(fileURLToPath(import.meta.url));
const MODULE = opt.module ?? path.join(HERE, '..', 'dist', 'storage', 'file.js');
const SECONDS = Number(opt.seconds);
const LIMITS = { maxItems: 100_000_000, maxBytes: 2 ** 40 };
const { createFileBackend } = await import(pathToFileURL(path.resolve(MODULE)).href);

const payload = (o, n) =>
  `<message xmlns='jabber:client' from='u${o}@example.net/phone' to='u${(o + 1) % 1000}@example.net' type='chat' id='m${n}'>` +
  `<body>a message of about the usual length for a chat, number ${n}</body><origin-id xmlns='urn:xmpp:sid:0' id='o${n}'/></message>`;

/** Write system calls of this process so far (Linux), or NaN. */
async function writeCalls() {
  const io = await readFile('/proc/self/io', 'utf8').catch(() => '');
  return Number(/^syscw: (\d+)/m.exec(io)?.[1] ?? NaN);
}

async function run(owners) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clove-bench-owners-'));
  const backend = createFileBackend(dir);
  const archive = backend.archive('example.net', 'archive', LIMITS);
  let done = 0;
  let stop = false;
  const w0 = await writeCalls();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  setTimeout(() => (stop = true), SECONDS * 1000);
  await Promise.all(
    Array.from({ length: owners }, async (_, o) => {
      for (let n = 0; !stop; n++) {
        await archive.append(`u${o}`, { with: `u${(o + 1) % owners}@example.net`, payload: payload(o, n) });
        done++;
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const writes = (await writeCalls()) - w0;
  await backend.close();
  await rm(dir, { recursive: true, force: true });
  return { rate: done / s, cpuUs: (cpu.user + cpu.system) / done, writes: writes / done };
}

console.log(`module ${MODULE}`);
for (const k of opt.owners.split(',').map(Number)) {
  const { rate, cpuUs, writes } = await run(k);
  console.log(`${String(k).padStart(4)} owners, one append in flight each: ${Math.round(rate).toLocaleString('en-US')} appends/s, ${cpuUs.toFixed(1)} µs CPU and ${writes.toFixed(2)} write calls per append`);
}
