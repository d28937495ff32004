// Child process for crash.test.ts: owners append with segment write-behind set so that nothing
// is written to the segments (no timer, no size trigger) and wait to be killed with SIGKILL.
// argv: <compiled file.js> <data dir> <round> <owners> <appends per owner>.
// Prints "ack <owner> <id> <tag>" once an append is durable, then "held" when all are.
const [modulePath, dataDir, round, owners, perOwner] = process.argv.slice(2);
const { createFileBackend } = await import(modulePath);
const backend = createFileBackend(dataDir, { writeBehind: { delayMs: 3_600_000, flushBytes: 2 ** 30 } });
const archive = backend.archive('localhost', 'archive', { maxItems: 10_000_000, maxBytes: 2 ** 40 });
const appends = [];
for (let o = 0; o < Number(owners); o++) {
  for (let n = 0; n < Number(perOwner); n++) {
    const tag = `r${round}-${n}`;
    appends.push(
      archive.append(`u${o}`, { with: `c${n % 3}@x`, payload: `${tag}:${'h'.repeat(n % 50)}` }).then((id) => process.stdout.write(`ack u${o} ${id} ${tag}\n`)),
    );
  }
}
await Promise.all(appends);
process.stdout.write('held\n');
setInterval(() => undefined, 60_000); // stay alive, records held, until killed
