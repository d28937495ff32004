// Detaching (`daemonize = true` or `clove start -D`), as mod_posix did: the command re-runs
// itself as a detached child (its own session, stdio on /dev/null, so logs must go to a file or
// syslog to be seen) and waits until that child has written its pidfile, then exits 0. The child
// reports readiness or its one-line failure over an IPC channel it closes right after.
import { spawn } from 'node:child_process';
import { ServerError } from '../core/errors.js';
import { withServerProcessEnv } from './process-env.js';

const CHILD_ENV = 'CLOVE_DAEMON_CHILD';
/** How long the parent waits for the detached child to be listening with its pidfile written. */
const READY_TIMEOUT_MS = 60_000;

type Message = { ready: number } | { error: string };

/** Whether this process is the detached child of `start -D`. */
export function isDaemonChild(): boolean {
  return process.env[CHILD_ENV] === '1' && typeof process.send === 'function';
}

/** In the detached child: tell the waiting parent we are up (or why we are not) and let it go. */
export function notifyParent(msg: Message): void {
  if (!isDaemonChild() || !process.connected) return;
  process.send?.(msg, undefined, undefined, () => {
    if (process.connected) process.disconnect();
  });
}

/** In the parent: start the detached child with the same arguments minus -D; resolve to its PID once it is ready. */
export function daemonize(argv: string[]): Promise<number> {
  const script = process.argv[1];
  if (!script) throw new ServerError('config', 'cannot find the clove command to detach');
  const args = argv.filter((a) => a !== '-D' && a !== '--daemonize');
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...withServerProcessEnv(process.env), [CHILD_ENV]: '1' },
  });
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      finish();
      reject(new ServerError('config', `the detached server (PID ${child.pid}) was not ready within ${READY_TIMEOUT_MS / 1000} s`));
    }, READY_TIMEOUT_MS);
    const finish = (): void => {
      clearTimeout(timer);
      child.removeAllListeners();
      if (child.connected) child.disconnect();
      child.unref();
    };
    child.on('message', (m: Message) => {
      finish();
      if ('ready' in m) resolve(m.ready);
      else reject(new ServerError('config', m.error));
    });
    child.on('error', (err) => {
      finish();
      reject(new ServerError('config', `cannot start the detached server: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      finish();
      reject(new ServerError('config', `the detached server exited (${code ?? signal}) before it was ready`));
    });
  });
}
