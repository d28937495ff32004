// Child process for crash.test.ts: appends to an archive until it is killed with SIGKILL.
// argv: <compiled file.js> <data dir> <round>. Prints "ack <id> <payload>" once an append is durable.
const [modulePath, dataDir, round] = process.argv.slice(2);
const { createFileBackend } = await import(modulePath);
const archive = createFileBackend(dataDir).archive('localhost', 'archive', { maxItems: 10_000_000, maxBytes: 2 ** 40 });
let n = 0;
const inFlight = new Set();
for (;;) {
  // Payloads of varying size (up to 20 KB) so records straddle write and page boundaries.
  const payload = `r${round}-${n}:${'x'.repeat((n * 7919) % 20000)}`;
  const p = archive.append('alice', { with: `c${n % 7}@x/r`, payload }).then((id) => {
    process.stdout.write(`ack ${id} ${payload.slice(0, payload.indexOf(':'))}\n`);
    inFlight.delete(p);
  });
  inFlight.add(p);
  n++;
  if (inFlight.size >= 64) await Promise.race(inFlight);
}
