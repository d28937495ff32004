// Cost of the file backend's reads on the login path, in one process: an account record read
// again (the read cache hit) and a file that does not exist (most users' roster), awaited one
// after another as logins do. Wall time and the process's CPU time (threadpool included).
//
//   npm run build && node bench/file-read.mjs [--root DIR] [--reads N]
//
// --root: a checkout whose dist/ is measured (default: this one), to compare two builds.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
};
const root = path.resolve(arg('--root', path.join(path.dirname(fileURLToPath(import.meta.url)), '..')));
const READS = Number(arg('--reads', '50000'));
const USERS = 2000;

const { createFileBackend } = await import(pathToFileURL(path.join(root, 'dist/storage/file.js')).href);
const dir = await mkdtemp(path.join(tmpdir(), 'clove-file-read-'));
try {
  const b = createFileBackend(dir);
  const accounts = b.keyval('localhost', 'accounts');
  const roster = b.keyval('localhost', 'roster');
  const record = { salt: 'x'.repeat(24), iterations: 4096, stored_key: 'y'.repeat(28), server_key: 'z'.repeat(28), bcrypt: '$2b$'.padEnd(60, 'h') };
  for (let i = 0; i < USERS; i++) await accounts.set(`user${i}`, record);
  await roster.set('someone', { contacts: {} }); // the directory exists; user<i> has no file
  for (let i = 0; i < USERS; i++) {
    await accounts.get(`user${i}`); // warm
    await roster.get(`user${i}`);
  }
  // Let the directory watch of a build that has one be set up and its events drained.
  await new Promise((r) => setTimeout(r, 1_200));
  for (let i = 0; i < USERS; i++) await roster.get(`user${i}`);

  const measure = async (label, get) => {
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < READS; i++) await get(`user${i % USERS}`);
    const ns = Number(process.hrtime.bigint() - t0);
    const cpu = process.cpuUsage(cpu0);
    console.log(`${label.padEnd(36)} ${(ns / READS / 1000).toFixed(2).padStart(7)} µs a read (wall), ${((cpu.user + cpu.system) / READS).toFixed(2).padStart(6)} µs CPU a read (all threads)`);
  };
  console.log(`build: ${root}; ${READS} reads of ${USERS} users each`);
  await measure('account record (present, cached)', (u) => accounts.get(u));
  await measure('roster (absent)', (u) => roster.get(u));
  await b.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
