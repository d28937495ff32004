// Node built-in modules that only some configurations use, loaded at their first use instead of
// at start: each one loaded costs resident memory (its JavaScript, its compiled code, the binding
// behind it) that a server which serves no HTTP and has not yet read or written its file store's
// logs should not pay (0.1–0.8 MiB of RSS right after start, docs/limits.md). Not here: dns,
// child_process and worker_threads, which Node (at any listen()) and pino load in every server
// anyway. test/e2e/lazy-modules.test.ts checks that a default start loads neither of these.
import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/** A getter that loads built-in `name` at its first call and returns the same module after. */
function onFirstUse<T>(name: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= load(name) as T);
}

/** node:http: the HTTP service, only once something is served over HTTP. */
export const httpModule = onFirstUse<typeof import('node:http')>('node:http');
const zlibModule = onFirstUse<typeof import('node:zlib')>('node:zlib');

/** CRC-32 (zlib's) of `data`: the checksum of the file store's log lines and archive records. */
export function crc32(data: string | Uint8Array): number {
  return zlibModule().crc32(data);
}
