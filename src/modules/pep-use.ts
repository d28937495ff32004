// Shared by the modules that keep data in users' PEP nodes through the PepService (bookmarks,
// vcard_legacy): one task per user at a time, and publishing with the config they want.
// The tasks wait in memory (a vcard_legacy task holds the vCard it converts), so what waits is
// bounded in count and bytes per user and over all users: a task that does not fit is refused
// at once (its promise rejects with resource-constraint) and never runs.
import { StanzaError } from '../core/errors.js';
import type { Element } from '../xml/element.js';
import type { Logger } from '../core/log.js';
import type { NodeOptions, PepService } from './pep/service.js';

/** Bounds on the tasks waiting (or running) in one runner. */
export interface TaskLimits {
  perUserTasks: number;
  perUserBytes: number;
  totalTasks: number;
  totalBytes: number;
}

/** Defaults: docs/limits.md lists them. */
export const DEFAULT_TASK_LIMITS: TaskLimits = { perUserTasks: 16, perUserBytes: 1024 * 1024, totalTasks: 4096, totalBytes: 32 * 1024 * 1024 };

/** What a task counts for besides the bytes it says it holds (the closure and its promise). */
export const TASK_OVERHEAD_BYTES = 256;

/** Runs a user's task after the ones before it; `bytes`: what the task holds until it has run. */
export type PerUserRunner = <T>(user: string, task: () => Promise<T>, bytes?: number) => Promise<T>;

/** A runner doing each user's tasks one after another, in the order they came, within `limits`. */
export function perUser(limits: TaskLimits = DEFAULT_TASK_LIMITS): PerUserRunner {
  const queues = new Map<string, { tail: Promise<unknown>; tasks: number; bytes: number }>();
  let tasks = 0;
  let bytes = 0;
  return <T>(user: string, task: () => Promise<T>, held = 0): Promise<T> => {
    const size = TASK_OVERHEAD_BYTES + Math.max(0, held);
    const q = queues.get(user) ?? { tail: Promise.resolve(), tasks: 0, bytes: 0 };
    if (q.tasks + 1 > limits.perUserTasks || q.bytes + size > limits.perUserBytes || tasks + 1 > limits.totalTasks || bytes + size > limits.totalBytes) {
      return Promise.reject(new StanzaError('resource-constraint', 'too many PEP updates wait for this account; try again later'));
    }
    q.tasks += 1;
    q.bytes += size;
    tasks += 1;
    bytes += size;
    const run = q.tail.then(task, task);
    const tail = run.then(() => undefined, () => undefined).then(() => {
      q.tasks -= 1;
      q.bytes -= size;
      tasks -= 1;
      bytes -= size;
      if (q.tasks === 0 && queues.get(user) === q) queues.delete(user);
    });
    q.tail = tail;
    queues.set(user, q);
    return run;
  };
}

/**
 * Publish with `options` as the node's config. A node its owner configured otherwise fails them
 * as publish-options preconditions; the item then goes in under the node's own config (the
 * owner's choice stands) and `log` says so.
 */
export async function publishPreferring(service: PepService, user: string, node: string, item: Element, options: NodeOptions, log: Logger): Promise<void> {
  try {
    await service.publish(user, node, item, options);
  } catch (err) {
    if (!(err instanceof StanzaError) || err.condition !== 'conflict') throw err;
    log.info({ user, node }, 'node configured otherwise by its owner; publishing under its own config');
    await service.publish(user, node, item);
  }
}
