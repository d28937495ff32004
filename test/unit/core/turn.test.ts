// A stanza's turn (src/core/turn.ts) and the event bus's barrier: handlers below Priority.archive
// of an event whose turn is not ready run only once the stream's previous stanza settled.
import { describe, expect, it } from 'vitest';
import { EventBus, Priority } from '../../../src/core/events.js';
import { Turn, waitForTurn } from '../../../src/core/turn.js';
import type { StanzaEvent } from '../../../src/core/events-map.js';
import { Element } from '../../../src/xml/element.js';

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const event = (turn: Turn | undefined): StanzaEvent => ({ origin: undefined, stanza: new Element('message'), to: undefined, from: undefined, ...(turn ? { turn } : {}) });

describe('Turn', () => {
  it('release() lets the stream go on and waits for the previous stanza, once however often called', async () => {
    const previous = deferred();
    const turn = new Turn(previous.promise, false);
    let released = false;
    void turn.released.then(() => (released = true));
    expect(turn.isReleased).toBe(false);
    const wait = turn.release();
    expect(turn.release()).toBe(wait);
    await Promise.resolve();
    expect(released).toBe(true);
    expect(turn.ready).toBe(false);
    let waited = false;
    void wait.then(() => (waited = true));
    await new Promise((r) => setImmediate(r));
    expect(waited).toBe(false);
    previous.resolve();
    await wait;
    expect(turn.ready).toBe(true);
    expect(waitForTurn(turn)).toBeUndefined();
  });

  it('a turn made ready has nothing to wait for', () => {
    expect(waitForTurn(new Turn(Promise.resolve(), true))).toBeUndefined();
    expect(waitForTurn(undefined)).toBeUndefined();
  });
});

describe('EventBus barrier for pipelined stanzas', () => {
  it('runs handlers at Priority.archive and above at once, the ones below after the previous stanza settled', async () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.hook('message/bare', () => { seen.push('policy'); }, Priority.policy);
    bus.hook('message/bare', () => { seen.push('archive'); }, Priority.archive);
    bus.hook('message/bare', () => { seen.push('carbons'); }, Priority.early);
    bus.hook('message/bare', () => { seen.push('deliver'); return true; }, Priority.fallback);
    const previous = deferred();
    const turn = new Turn(previous.promise, false);
    const result = bus.fire('message/bare', event(turn));
    expect(seen).toEqual(['policy', 'archive']);
    expect(turn.isReleased).toBe(true); // the next stanza may start: nothing here can overtake it any more
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['policy', 'archive']);
    previous.resolve();
    expect(await result).toBe(true);
    expect(seen).toEqual(['policy', 'archive', 'carbons', 'deliver']);
  });

  it('stays synchronous without a turn or with a ready one', () => {
    const bus = new EventBus();
    bus.hook('message/bare', () => true, Priority.fallback);
    expect(bus.fire('message/bare', event(undefined))).toBe(true);
    const turn = new Turn(Promise.resolve(), true);
    expect(bus.fire('message/bare', event(turn))).toBe(true);
    expect(turn.isReleased).toBe(false);
  });
});
