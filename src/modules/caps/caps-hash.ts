// The verification string of entity capabilities: what a `ver` attribute must equal for a
// disco#info answer to be trusted and shared between entities. References: XEP-0115 §5.1, §5.4.
import { createHash } from 'node:crypto';
import type { Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';

/** Octet order (i;octet, RFC 4790), as §5.1 requires; localeCompare would not be. */
function octets(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The sha-1 `ver` of a disco#info `<query/>` (base64), or undefined when the answer is one
 * §5.4 says not to trust (duplicate identities or features, malformed extension forms).
 */
export function capsVer(query: Element): string | undefined {
  const identities = query.getChildren('identity').map((i) =>
    `${i.attrs.category ?? ''}/${i.attrs.type ?? ''}/${i.attrs['xml:lang'] ?? ''}/${i.attrs.name ?? ''}`);
  const features = query.getChildren('feature').map((f) => f.attrs.var ?? '');
  if (new Set(identities).size !== identities.length || new Set(features).size !== features.length) return undefined;
  let s = '';
  for (const i of identities.sort(octets)) s += `${i}<`;
  for (const f of features.sort(octets)) s += `${f}<`;
  const forms: [string, string][] = [];
  for (const form of query.getChildren('x', NS.DATA_FORMS)) {
    const fields = form.getChildren('field');
    const type = fields.find((f) => f.attrs.var === 'FORM_TYPE');
    if (!type) continue; // a form without FORM_TYPE is ignored (§5.4 3.6)
    const typeValues = type.getChildren('value');
    if (typeValues.length !== 1 || type.attrs.type !== 'hidden') return undefined;
    let part = `${typeValues[0]!.text()}<`;
    const rest = fields.filter((f) => f !== type).sort((a, b) => octets(a.attrs.var ?? '', b.attrs.var ?? ''));
    for (const f of rest) {
      part += `${f.attrs.var ?? ''}<`;
      for (const v of f.getChildren('value').map((e) => e.text()).sort(octets)) part += `${v}<`;
    }
    forms.push([typeValues[0]!.text(), part]);
  }
  if (new Set(forms.map(([t]) => t)).size !== forms.length) return undefined;
  for (const [, part] of forms.sort((a, b) => octets(a[0], b[0]))) s += part;
  return createHash('sha1').update(s, 'utf8').digest('base64');
}
