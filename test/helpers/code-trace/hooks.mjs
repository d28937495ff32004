// Node's loader hook (module.register): appends each loaded module's URL, one a line, to the
// file named by CLOVE_TRACE_CODE. It runs in the child server, outside Clove's code, so what it
// lists is what the process really loaded.
import { appendFileSync } from 'node:fs';

/** Note the URL, then load as usual. */
export async function load(url, context, nextLoad) {
  const out = process.env.CLOVE_TRACE_CODE;
  if (out) appendFileSync(out, `${url}\n`);
  return nextLoad(url, context);
}
