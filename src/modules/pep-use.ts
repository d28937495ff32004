// Shared by the modules that keep data in users' PEP nodes through the PepService (bookmarks,
// vcard_legacy): one task per user at a time, and publishing with the config they want.
import { StanzaError } from '../core/errors.js';
import type { Element } from '../xml/element.js';
import type { Logger } from '../core/log.js';
import type { NodeOptions, PepService } from './pep/service.js';

/** A runner doing each user's tasks one after another, in the order they came. */
export function perUser(): <T>(user: string, task: () => Promise<T>) => Promise<T> {
  const queues = new Map<string, Promise<unknown>>();
  return <T>(user: string, task: () => Promise<T>): Promise<T> => {
    const run = (queues.get(user) ?? Promise.resolve()).then(task, task);
    const tail = run.catch(() => undefined);
    queues.set(user, tail);
    void tail.then(() => { if (queues.get(user) === tail) queues.delete(user); });
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
