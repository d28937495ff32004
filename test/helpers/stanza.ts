// Clove elements from XML text, as input for Clove's own code in unit tests (a stanza routed
// into a host, a request handed to a module). Never used to read what a server sent: the raw
// client (wire.ts) parses that with sax, independently of Clove's parser.
import { StreamParser } from '../../src/xml/parser.js';
import type { Element } from '../../src/xml/element.js';

/** Parse one element (as a child of a jabber:client stream) into a Clove Element. Throws on bad XML. */
export function stanza(xml: string): Element {
  const out: Element[] = [];
  let failure: string | undefined;
  const parser = new StreamParser({
    streamStart: () => {},
    stanza: (el) => { out.push(el); },
    streamEnd: () => {},
    error: (condition, text) => { failure = `${condition}: ${text}`; },
  });
  parser.write(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>${xml}`);
  if (failure !== undefined) throw new Error(`stanza: ${failure} in ${xml}`);
  if (out.length !== 1) throw new Error(`stanza: expected one complete element, got ${out.length} in ${xml}`);
  return out[0]!;
}
