// The stream root as the parser keeps it for the stream's whole life.
//
// Why: the parser needs only the root's name (to match `</stream:stream>`) and its namespace
// declarations (prefixes a stanza may use). Kept as parsed, the root also holds the header's
// other attributes, and its longer strings are slices of the chunk the header came in, which
// they keep alive whole: ~0.6 KB per idle stream. The parser never changes its root.
import { Element, type Attrs } from './element.js';
import { NS } from './ns.js';

/** Server dialback's namespace (XEP-0220), declared on s2s roots (src/stream/dialback.ts, a layer above). */
const DIALBACK = 'jabber:server:dialback';
/** Strings every stream header repeats, shared by all streams. */
const KNOWN = new Map<string, string>([['stream:stream', 'stream:stream'], [DIALBACK, DIALBACK], ...Object.values(NS).map((v): [string, string] => [v, v])]);

/** V8 makes a substring this long or longer a slice that keeps its whole parent string. */
const SLICE_MIN = 13;

/** `s` as a string of its own: a shared one when known, else a copy (never a slice of the input chunk). */
function own(s: string): string {
  return KNOWN.get(s) ?? (s.length < SLICE_MIN ? s : Buffer.from(s, 'utf8').toString('utf8'));
}

/** Declarations a shared root may hold, with their usual values (c2s, s2s and component streams). */
const SHARED_DECLS = new Map<string, readonly string[]>([
  ['xmlns', [NS.CLIENT, NS.SERVER, NS.COMPONENT]],
  ['xmlns:stream', [NS.STREAMS]],
  ['xmlns:db', [DIALBACK]],
]);
/** The shared roots, one per shape (declarations and their order): a few dozen at most. */
const shared = new Map<string, Element>();

/**
 * A lean copy of the root element: its name and its `xmlns` declarations, no children. The usual
 * roots (c2s, s2s, component streams) are frozen elements that all streams share.
 */
export function keptRoot(el: Element): Element {
  const attrs: Attrs = {};
  let known = el.name === 'stream:stream';
  let shape = el.name;
  for (const key in el.attrs) {
    if (!key.startsWith('xmlns')) continue;
    const v = el.attrs[key] as string;
    attrs[key] = own(v);
    known &&= SHARED_DECLS.get(key)?.includes(v) === true;
    shape += `\u0000${key}\u0000${v}`;
  }
  if (!known) return new Element(own(el.name), attrs);
  let root = shared.get(shape);
  if (!root) {
    root = new Element(own(el.name), Object.freeze(attrs), Object.freeze([]) as unknown as Element['children']);
    shared.set(shape, Object.freeze(root));
  }
  return root;
}
