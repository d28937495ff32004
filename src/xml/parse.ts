// Parse a standalone XML fragment (stored stanzas) with the same strict parser as streams.
import { StreamParser } from './parser.js';
import type { Element } from './element.js';

/** Parse one element from text; throws on anything that is not exactly one well-formed element. */
export function parseElement(text: string): Element {
  const found: Element[] = [];
  let failure: string | undefined;
  const p = new StreamParser({
    streamStart: () => {},
    stanza: (el) => found.push(el),
    streamEnd: () => {},
    error: (condition, msg) => { failure = `${condition}: ${msg}`; },
  }, { maxStanzaBytes: Math.max(1024, Buffer.byteLength(text) + 64) });
  p.write(`<r>${text}</r>`);
  if (failure) throw new Error(failure);
  if (found.length !== 1) throw new Error(`expected one element, found ${found.length}`);
  return found[0] as Element;
}
