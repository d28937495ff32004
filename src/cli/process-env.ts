// Settings the server process can only be given when it starts: the C library reads them before
// any JavaScript runs. Clove's own ways of starting the server set them (`start -D` and `restart`
// here; `npm start`, config/clove.service and docker/Dockerfile in their files, which a unit test
// compares with this list); a `node bin/clove.js start` by hand runs without them unless the
// shell sets them. docs/limits.md has the measurements.
//
// MALLOC_ARENA_MAX=2: glibc gives each thread that allocates its own malloc arena and keeps what
// the thread freed there. V8's worker threads (concurrent compiling and garbage collection) and
// libuv's pool (PBKDF2, file I/O) each hold one, ~2 MiB more RSS after the first login storm, ~2 KiB
// per session on a fresh server with 1,000 sessions. With two arenas the threads share the second
// one; logins were not slower (PLAIN ~4% faster in the same runs).

/** What Clove's launchers put in the server's environment, unless the operator set it already. */
export const SERVER_PROCESS_ENV: Readonly<Record<string, string>> = Object.freeze({ MALLOC_ARENA_MAX: '2' });

/** `env` with Clove's process-start settings added where it does not set them itself. */
export function withServerProcessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [name, value] of Object.entries(SERVER_PROCESS_ENV)) {
    if (out[name] === undefined || out[name] === '') out[name] = value;
  }
  return out;
}
