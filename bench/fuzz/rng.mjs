// A small seeded PRNG (mulberry32) so every fuzz input can be regenerated from (seed, index).

/** A random source seeded from two integers; the same pair gives the same sequence. */
export function rng(seed, index = 0) {
  let a = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(index | 0, 0x85ebca6b) ^ 0x27d4eb2f) >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  // Warm up: nearby seeds start far apart.
  for (let k = 0; k < 4; k++) next();
  const r = {
    /** A float in [0, 1). */
    next,
    /** An integer in [0, n). */
    int: (n) => Math.floor(next() * n),
    /** An integer in [lo, hi]. */
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    /** True with probability p. */
    chance: (p) => next() < p,
    /** One element of the array. */
    pick: (arr) => arr[Math.floor(next() * arr.length)],
  };
  return r;
}
