// The cost of writing the largest roster the default limits allow (docs/limits.md, "Storage
// driven from outside"): max_roster_bytes (1 MiB) of items plus 512 KiB of pending requests,
// written through the file backend (JSON.stringify on the event loop, then write, fsync, rename
// and directory fsync off it). Every roster change writes the whole record once.
//
//   npm run build && node bench/roster-write.mjs [rounds]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createFileBackend } from '../dist/storage/file.js';
import { DEFAULT_ROSTER_LIMITS } from '../dist/modules/roster/roster-store.js';
import { RosterSizes } from '../dist/modules/roster/roster-sizes.js';

const ROUNDS = Number(process.argv[2] ?? 30);

/** A roster filling both budgets with typical-looking entries. */
function largestRoster() {
  const items = {};
  const pending = {};
  let i = 0;
  // Names long enough that max_roster_items items fill max_roster_bytes.
  const name = (n) => `Contact number ${n} `.padEnd(120, '.');
  while (RosterSizes.of(items, {}).itemBytes < DEFAULT_ROSTER_LIMITS.itemBytes - 4096 && i < DEFAULT_ROSTER_LIMITS.items) {
    for (let k = 0; k < 100 && i < DEFAULT_ROSTER_LIMITS.items; k++, i++) {
      items[`contact${i}@server${i % 50}.b32.i2p`] = { subscription: 'both', name: name(i), groups: ['Friends', 'I2P'] };
    }
  }
  while (RosterSizes.of({}, pending).pendingBytes < DEFAULT_ROSTER_LIMITS.pendingBytes - 2048) {
    const from = `stranger${i++}@elsewhere.b32.i2p`;
    pending[from] = { n: 'presence', a: { from, to: 'victim@localhost', type: 'subscribe', id: 'x'.repeat(16) }, c: [{ n: 'status', c: ['s'.repeat(1024)] }] };
  }
  return { version: Date.now(), items, pending };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const max = (xs) => Math.max(...xs);

const dir = await mkdtemp(join(tmpdir(), 'clove-roster-bench-'));
try {
  const roster = largestRoster();
  const store = createFileBackend(dir).keyval('localhost', 'roster');
  const stringify = [];
  const write = [];
  const sizes = [];
  for (let r = 0; r < ROUNDS; r++) {
    roster.version++;
    let t = performance.now();
    const text = JSON.stringify(roster);
    stringify.push(performance.now() - t);
    sizes.push(text.length);
    t = performance.now();
    await store.set('victim', roster); // stringify (again) + write + fsync + rename + dir fsync
    write.push(performance.now() - t);
  }
  const s = RosterSizes.of(roster.items, roster.pending);
  console.log(`roster: ${s.items} items (${s.itemBytes} B), ${s.pending} pending (${s.pendingBytes} B), ${sizes[0]} B of JSON`);
  console.log(`JSON.stringify on the event loop: median ${median(stringify).toFixed(2)} ms, max ${max(stringify).toFixed(2)} ms`);
  console.log(`whole durable write (store.set): median ${median(write).toFixed(2)} ms, max ${max(write).toFixed(2)} ms (${ROUNDS} rounds)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
