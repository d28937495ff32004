// Shapes of Prosody's internal storage as read by `clove import-prosody`: Lua tables from the
// data-file reader (../config/lua/data-file.ts) checked and turned into Clove's types.
import { tryParseJid } from '../../jid/jid.js';
import type { ElementJSON } from '../../xml/json.js';
import { DataTable, type DataValue } from '../../config/lua/data-file.js';

/** Prosody's datamanager file-name encoding: every byte other than [A-Za-z0-9] → %xx. */
export function prosodyEncode(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1').replace(/[^A-Za-z0-9]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

/** A file left out on purpose (Clove already has other data, over a limit): reported, not warned about. */
export class Skip extends Error {}

/** The value as a table, or an error naming what was expected. */
export function table(v: DataValue, what: string): DataTable {
  if (!(v instanceof DataTable)) throw new Error(`expected a table (${what})`);
  return v;
}

/** A string field of a table (undefined when absent). */
export function str(t: DataTable, key: string): string | undefined {
  const v = t.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new Error(`'${key}' is not a string`);
  return v;
}

/** A bare JID, prepared; anything else throws. */
export function bareJid(s: unknown): string {
  const j = typeof s === 'string' ? tryParseJid(s) : undefined;
  if (!j || j.resource) throw new Error(`'${String(s)}' is not a bare JID`);
  return j.toString();
}

/** A preserialised stanza (util/stanza: {name, attr, [i] = child or text}) → ElementJSON. */
export function toElement(v: DataValue, depth = 0): ElementJSON {
  if (depth > 90) throw new Error('element nested too deeply');
  const t = table(v, 'stanza');
  const name = t.get('name');
  if (typeof name !== 'string' || !name) throw new Error('stanza without a name');
  const out: ElementJSON = { n: name };
  const attr = t.get('attr');
  if (attr !== undefined) {
    const a: Record<string, string> = {};
    let prefixes = 0;
    for (const [k, val] of table(attr, 'attributes').hash) {
      if (typeof k !== 'string' || typeof val !== 'string') throw new Error(`bad attribute on <${name}/>`);
      // Prosody's parser keeps an attribute in another namespace as "namespace\1name"
      // (util/xmppstream); as XML it needs a prefix declared on the element.
      const sep = k.indexOf('\x01');
      if (sep < 0) a[k] = val;
      else {
        const p = `ns${++prefixes}`;
        a[`xmlns:${p}`] = k.slice(0, sep);
        a[`${p}:${k.slice(sep + 1)}`] = val;
      }
    }
    if (Object.keys(a).length) out.a = a;
  }
  const children = t.array().map((c) => (typeof c === 'string' ? c : toElement(c, depth + 1)));
  if (children.length) out.c = children;
  return out;
}
