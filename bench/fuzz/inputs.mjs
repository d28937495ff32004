// The fuzz inputs, shared by the parser fuzzer and the differential check: input i of seed s
// is always the same document, mutation, limits and cuts.

import { rng } from './rng.mjs';
import { document } from './gen-doc.mjs';
import { mutate, splits } from './mutate.mjs';

/** Input i of seed s: { kind, buf, limits, cuts, cuts2 }. */
export function makeInput(seed, i) {
  const r = rng(seed, i);
  const roll = r.next();
  const kind = roll < 0.3 ? 'valid' : roll < 0.45 ? 'edge' : roll < 0.9 ? 'mutated' : 'limits';
  let buf = Buffer.from(document(r, { edge: kind === 'edge' }));
  if (kind === 'mutated' || (kind === 'limits' && r.chance(0.5))) {
    const other = r.chance(0.15) ? Buffer.from(document(r, { stanzas: 2 })) : null;
    buf = mutate(r, buf, other);
  }
  const limits = kind === 'limits'
    ? { maxStanzaBytes: r.range(16, 2048), maxDepth: r.range(1, 6), maxAttrs: r.range(1, 6) }
    : undefined;
  return { kind, buf, limits, cuts: splits(r, buf.length), cuts2: splits(r, buf.length) };
}
