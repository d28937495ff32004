// bcrypt hashing on worker threads. bcryptjs is pure JavaScript and takes tens of
// milliseconds of CPU per hash at cost 10, so it never runs on the event loop.
//
// The worker's code is a string evaluated by the Worker (eval: true), and bcryptjs is
// resolved here and passed in by absolute path: this works the same from the TypeScript
// sources under vitest and from the compiled dist/, with no extra file to copy at build time.

import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

/** Something that turns a password into a bcrypt hash off the event loop. */
export interface PasswordHasher {
  hash(password: string, cost: number): Promise<string>;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptPath);
parentPort.on('message', ({ password, cost }) => {
  let reply;
  try {
    reply = { hash: bcrypt.hashSync(password, cost) };
  } catch (e) {
    reply = { error: String((e && e.message) || e) };
  }
  parentPort.postMessage(reply);
});
`;

interface Task {
  password: string;
  cost: number;
  resolve: (hash: string) => void;
  reject: (e: Error) => void;
}

/** A fixed-size pool of bcrypt workers, started on demand. Idle workers do not keep the process alive. */
export class BcryptPool implements PasswordHasher {
  private readonly bcryptPath = createRequire(import.meta.url).resolve('bcryptjs');
  private readonly queue: Task[] = [];
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Task>();
  private readonly workers = new Set<Worker>();
  private closed = false;

  constructor(readonly size: number = os.availableParallelism()) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError('pool size must be a positive integer');
  }

  /** Hash a password with a fresh salt; resolves to a $2b$ hash string. */
  hash(password: string, cost: number): Promise<string> {
    if (this.closed) return Promise.reject(new Error('bcrypt pool is closed'));
    if (!Number.isInteger(cost) || cost < 4 || cost > 31) return Promise.reject(new RangeError('bcrypt cost must be 4..31'));
    return new Promise((resolve, reject) => {
      this.queue.push({ password, cost, resolve, reject });
      this.pump();
    });
  }

  /** Stop all workers; queued hashes fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new Error('bcrypt pool is closed'));
    await Promise.all([...this.workers].map((w) => w.terminate()));
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let w = this.idle.pop();
      if (!w) {
        if (this.workers.size >= this.size) return;
        w = this.spawn();
      }
      const task = this.queue.shift()!;
      this.busy.set(w, task);
      w.ref(); // a pending hash keeps the process alive, an idle worker does not
      w.postMessage({ password: task.password, cost: task.cost });
    }
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptPath: this.bcryptPath } });
    this.workers.add(w);
    let failure: Error | undefined;
    w.on('message', (m: { hash?: string; error?: string }) => {
      const task = this.busy.get(w);
      this.busy.delete(w);
      w.unref();
      this.idle.push(w);
      if (task) {
        if (m.hash !== undefined) task.resolve(m.hash);
        else task.reject(new Error(`bcrypt failed: ${m.error}`));
      }
      this.pump();
    });
    w.on('error', (e) => (failure = e));
    w.on('exit', () => {
      this.workers.delete(w);
      const i = this.idle.indexOf(w);
      if (i !== -1) this.idle.splice(i, 1);
      const task = this.busy.get(w);
      this.busy.delete(w);
      task?.reject(failure ?? new Error('bcrypt worker exited'));
      if (!this.closed) this.pump();
    });
    return w;
  }
}

let shared: BcryptPool | undefined;

/** The process-wide pool (one worker per CPU), created on first use. */
export function sharedBcryptPool(): BcryptPool {
  shared ??= new BcryptPool();
  return shared;
}
