// The stream root as the parser keeps it for the stream's whole life.
//
// Why: the parser needs only the root's name (to match `</stream:stream>`) and its namespace
// declarations (prefixes a stanza may use). Kept as parsed, the root also holds the header's
// other attributes, and its longer strings are slices of the chunk the header came in, which
// they keep alive whole: ~0.6 KB per idle stream.
import { Element, type Attrs } from './element.js';
import { NS } from './ns.js';

/** Strings every stream header repeats, shared by all streams. */
const KNOWN = new Map<string, string>([['stream:stream', 'stream:stream'], ...Object.values(NS).map((v): [string, string] => [v, v])]);

/** V8 makes a substring this long or longer a slice that keeps its whole parent string. */
const SLICE_MIN = 13;

/** `s` as a string of its own: a shared one when known, else a copy (never a slice of the input chunk). */
function own(s: string): string {
  return KNOWN.get(s) ?? (s.length < SLICE_MIN ? s : Buffer.from(s, 'utf8').toString('utf8'));
}

/** A lean copy of the root element: its name and its `xmlns` declarations, no children. */
export function keptRoot(el: Element): Element {
  const attrs: Attrs = {};
  for (const key in el.attrs) if (key.startsWith('xmlns')) attrs[key] = own(el.attrs[key] as string);
  return new Element(own(el.name), attrs);
}
