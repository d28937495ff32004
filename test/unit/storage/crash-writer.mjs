// Child process for crash.test.ts: writes in a loop until it is killed with SIGKILL.
// argv: <compiled file.js> <data dir>. Prints "ack <n>" after round n is durable.
const [modulePath, dataDir] = process.argv.slice(2);
const { createFileBackend } = await import(modulePath);
const backend = createFileBackend(dataDir);
const kv = backend.keyval('localhost', 'crash');
const map = backend.map('localhost', 'crashmap');
let n = ((await kv.get('u0'))?.n ?? -1) + 1;
for (;;) {
  // Values of varying size, so a torn write would show as broken JSON.
  const pad = 'x'.repeat((n * 7919) % 50000);
  const writes = [];
  for (let u = 0; u < 4; u++) writes.push(kv.set(`u${u}`, { n, u, pad }));
  writes.push(map.set('m', `k${n % 50}`, { n, pad: pad.slice(0, 1000) }));
  await Promise.all(writes);
  process.stdout.write(`ack ${n}\n`);
  n++;
}
