// Elements as JSON, for storage (vCards, private XML): a compact, lossless shape.
import { Element } from './element.js';

export type ElementJSON = { n: string; a?: Record<string, string>; c?: (ElementJSON | string)[] };

/** Element → JSON-able object. */
export function toJSON(el: Element): ElementJSON {
  const out: ElementJSON = { n: el.name };
  if (Object.keys(el.attrs).length) out.a = { ...el.attrs };
  if (el.children.length) out.c = el.children.map((c) => (typeof c === 'string' ? c : toJSON(c)));
  return out;
}

/** JSON → Element (input is trusted: it was written by toJSON). */
export function fromJSON(j: ElementJSON): Element {
  return new Element(j.n, j.a ? { ...j.a } : {}, (j.c ?? []).map((c) => (typeof c === 'string' ? c : fromJSON(c))));
}
