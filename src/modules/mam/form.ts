// The archive query's data form (XEP-0313 §4.1, §4.1.5 and the #extended fields): what an iq get
// of the query returns, and reading a submitted one into filters. Dates are XEP-0082 DateTimes.
import { x, type Element } from '../../xml/element.js';
import { tryParseJid } from '../../jid/jid.js';
import { StanzaError } from '../../core/errors.js';
import { formElement } from '../adhoc/dataforms.js';

/** The filters a query form sets. */
export interface QueryFilters {
  /** A bare or full JID, prepared. */
  with?: string;
  /** Milliseconds since the epoch (inclusive). */
  start?: number;
  end?: number;
  beforeId?: string;
  afterId?: string;
  ids?: string[];
}

/** The query form (§4.1.5), for an iq get of <query/>. */
export function queryForm(ns: string): Element {
  return x('query', { xmlns: ns }, formElement('form', {
    formType: ns,
    fields: [
      { var: 'with', type: 'jid-single' },
      { var: 'start', type: 'text-single' },
      { var: 'end', type: 'text-single' },
      { var: 'before-id', type: 'text-single' },
      { var: 'after-id', type: 'text-single' },
      { var: 'ids', type: 'list-multi' },
    ],
  }));
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** An XEP-0082 DateTime as milliseconds since the epoch, or undefined when it is not one. */
export function parseDateTime(s: string): number | undefined {
  const m = DATETIME.exec(s.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec] = m.map(Number) as number[];
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || sec! > 60) return undefined;
  const t = Date.parse(s.trim());
  if (!Number.isFinite(t)) return undefined;
  // Date.parse rolls 31 February over to March: a date that does not exist is refused.
  const day = new Date(Date.UTC(y!, mo! - 1, d!));
  if (day.getUTCDate() !== d) return undefined;
  return t;
}

/** The one value of a single-valued field, or undefined. */
function single(field: Element, name: string): string | undefined {
  const values = field.getChildren('value');
  if (values.length > 1) throw new StanzaError('bad-request', `field '${name}' takes one value`);
  const v = values[0]?.text().trim();
  return v === '' ? undefined : v;
}

/** Read the submitted form of a query (§4.1); throws bad-request for a malformed one. */
export function readQueryForm(form: Element, ns: string): QueryFilters {
  if (form.attrs.type !== undefined && form.attrs.type !== 'submit') throw new StanzaError('bad-request', "the query form must be of type 'submit'");
  const out: QueryFilters = {};
  const seen = new Set<string>();
  for (const field of form.getChildren('field')) {
    const name = field.attrs.var ?? '';
    if (seen.has(name)) throw new StanzaError('bad-request', `field '${name}' appears twice`);
    seen.add(name);
    if (name === 'FORM_TYPE') {
      const t = single(field, name);
      if (t !== ns) throw new StanzaError('bad-request', `unexpected FORM_TYPE, expected '${ns}'`);
      continue;
    }
    if (name === 'ids') {
      out.ids = field.getChildren('value').map((v) => v.text().trim()).filter((v) => v !== '');
      continue;
    }
    const v = single(field, name);
    if (v === undefined) continue;
    switch (name) {
      case 'with': {
        const jid = tryParseJid(v);
        if (!jid) throw new StanzaError('bad-request', "field 'with' is not a valid JID");
        out.with = jid.toString();
        break;
      }
      case 'start':
      case 'end': {
        const t = parseDateTime(v);
        if (t === undefined) throw new StanzaError('bad-request', `field '${name}' is not an XEP-0082 DateTime`);
        out[name] = t;
        break;
      }
      case 'before-id': out.beforeId = v; break;
      case 'after-id': out.afterId = v; break;
      default:
        // XEP-0313 §4.1: a field the server does not support is refused.
        throw new StanzaError('feature-not-implemented', `field '${name}' is not supported`);
    }
  }
  if (!seen.has('FORM_TYPE')) throw new StanzaError('bad-request', `the query form has no FORM_TYPE (expected '${ns}')`);
  return out;
}

