// An estimate of the heap an element tree holds, for queues bounded in bytes. Serialized length
// alone underestimates trees of many small elements (`<a/>` is 4 bytes of text but ~150 bytes of
// objects), so each element and attribute is charged a fixed overhead on top of its characters.
import type { Element } from './element.js';

/** Bytes charged per element (object, attrs object, children array). */
const PER_ELEMENT = 160;
/** Bytes charged per attribute (property slot, key and value strings). */
const PER_ATTR = 40;

/** Approximate heap bytes of an element tree (strings counted at 1 byte per character). */
export function heapCost(el: Element): number {
  let n = PER_ELEMENT + el.name.length;
  for (const k in el.attrs) n += PER_ATTR + k.length + (el.attrs[k] as string).length;
  for (const c of el.children) n += typeof c === 'string' ? c.length : heapCost(c);
  return n;
}
