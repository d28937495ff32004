// Small numeric helpers for the report.

/** The q-quantile (0..1) of `values` by nearest rank; NaN when empty. Sorts a copy. */
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const a = Float64Array.from(values).sort();
  const rank = Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1));
  return a[rank];
}

/** p50/p99/max of a list of milliseconds. */
export function latencySummary(values) {
  if (values.length === 0) return { p50: NaN, p99: NaN, max: NaN, n: 0 };
  const a = Float64Array.from(values).sort();
  const at = (q) => a[Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1))];
  return { p50: at(0.5), p99: at(0.99), max: a[a.length - 1], n: a.length };
}

/** Adds 1 to counts[key]. */
export function bump(counts, key) {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** A number for a table cell. */
export function fmt(x, digits = 0) {
  if (x === undefined || x === null || Number.isNaN(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
