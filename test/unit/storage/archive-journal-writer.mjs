// Child process for crash.test.ts: many owners append to one archive store at once (each keeps
// one append in flight, so their records share journal writes) until killed with SIGKILL.
// argv: <compiled file.js> <data dir> <round> <owners>. Prints "ack <owner> <id> <tag>" once an append is durable.
const [modulePath, dataDir, round, owners] = process.argv.slice(2);
const { createFileBackend } = await import(modulePath);
// A small journal bound, so checkpoints (segment fsyncs, journal emptied) happen during the burst.
const archive = createFileBackend(dataDir, { journalBytes: 256 * 1024 }).archive('localhost', 'archive', { maxItems: 10_000_000, maxBytes: 2 ** 40 });
const run = async (owner) => {
  for (let n = 0; ; n++) {
    const payload = `r${round}-${n}:${'y'.repeat((n * 2741) % 3000)}`;
    const id = await archive.append(owner, { with: `c${n % 5}@x`, payload });
    process.stdout.write(`ack ${owner} ${id} ${payload.slice(0, payload.indexOf(':'))}\n`);
  }
};
await Promise.all(Array.from({ length: Number(owners) }, (_, i) => run(`u${i}`)));
