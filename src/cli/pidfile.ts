// The pidfile (what mod_posix did): created exclusively with `wx`; an existing file naming a live
// process refuses the start, a stale one (dead PID) is replaced; removed on clean exit.
import { openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { ServerError } from '../core/errors.js';

/** The PID a pidfile names, or undefined when it is missing or unreadable. */
export function readPid(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Whether a process with this PID exists (signal 0; EPERM means it exists but is not ours). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** An exited process not yet reaped (in a container whose init does not reap, it stays so). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false; // no /proc (not Linux): trust kill(pid, 0)
  }
}

/** The PID of the running Clove the pidfile names, or undefined when none runs. */
export function runningPid(path: string): number | undefined {
  const pid = readPid(path);
  return pid !== undefined && pid !== process.pid && isAlive(pid) ? pid : undefined;
}

function alreadyRunning(pid: number, path: string): ServerError {
  return new ServerError('config', `already running as PID ${pid} (pidfile ${path})`);
}

/** Refuse early when the pidfile names a live process (before listeners are opened). */
export function checkPidfile(path: string): void {
  const pid = runningPid(path);
  if (pid !== undefined) throw alreadyRunning(pid, path);
}

/** Write our PID to `path` exclusively; returns the function that removes it again. */
export function acquirePidfile(path: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new ServerError('config', `cannot write pidfile ${path}: ${(err as Error).message}`);
      const pid = readPid(path);
      if (pid !== undefined && pid !== process.pid && isAlive(pid)) throw alreadyRunning(pid, path);
      try {
        unlinkSync(path); // stale: its process is gone
      } catch { /* raced with another remover */ }
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (readPid(path) === process.pid) {
        try {
          unlinkSync(path);
        } catch { /* already gone */ }
      }
    };
  }
  throw new ServerError('config', `cannot take over pidfile ${path}`);
}
