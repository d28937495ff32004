// `clove stop`, `clove status`, `clove reload`: find the running server through the configured pidfile.
// status exits 0 when running and 3 when not (as LSB init scripts do); stop exits 2 when
// nothing runs.
import type { Config } from '../config/config.js';
import { ServerError } from '../core/errors.js';
import { isAlive, runningPid } from './pidfile.js';

/** Seconds `clove stop` waits for the server to exit after SIGTERM. */
const STOP_TIMEOUT_MS = 30_000;

function pidfileOf(config: Config): string {
  const path = config.get<string | undefined>('pidfile');
  if (!path) throw new ServerError('config', `no pidfile is set in ${config.file}; cannot find the running server`);
  return path;
}

/** `clove status`: 0 and "running as PID n" when the pidfile names a live process, else 3. */
export function status(config: Config, quiet = false): number {
  const path = pidfileOf(config);
  const pid = runningPid(path);
  if (quiet) return pid === undefined ? 3 : 0;
  if (pid === undefined) {
    process.stdout.write(`clove is not running (pidfile ${path})\n`);
    return 3;
  }
  process.stdout.write(`clove is running as PID ${pid} (pidfile ${path})\n`);
  return 0;
}

/** `clove stop`: SIGTERM the running server and wait until it has exited. */
export async function stop(config: Config, timeoutMs = STOP_TIMEOUT_MS): Promise<number> {
  const path = pidfileOf(config);
  const pid = runningPid(path);
  if (pid === undefined) throw new ServerError('config', `not running (no live process in pidfile ${path})`);
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new ServerError('config', `PID ${pid} did not exit within ${Math.round(timeoutMs / 1000)} s of SIGTERM`);
    await new Promise((r) => setTimeout(r, 50));
  }
  process.stderr.write(`stopped clove (PID ${pid})\n`);
  return 0;
}

/**
 * `clove reload`: SIGHUP the running server (it reopens its logs and reloads the config). The
 * config was already loaded and checked by this command, so a broken file is reported here and
 * the server is not disturbed.
 */
export function reload(config: Config): number {
  const path = pidfileOf(config);
  const pid = runningPid(path);
  if (pid === undefined) throw new ServerError('config', `not running (no live process in pidfile ${path})`);
  process.kill(pid, 'SIGHUP');
  process.stderr.write(`asked clove (PID ${pid}) to reload ${config.file}; its log says what was applied\n`);
  return 0;
}
