// Namespace well-formedness for the stream parser: declarations, bound prefixes, and
// duplicate attributes after prefix resolution. Names stay raw on elements (as in ltx).
// References: Namespaces in XML 1.0 (Third Edition) §3, §5, §6; RFC 6120 §11.2.

import type { Element } from './element.js';

export const XML_NS = 'http://www.w3.org/XML/1998/namespace';
export const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

/**
 * Check the namespace rules for `el`, about to be pushed on `stack` (stack[0] is the stream
 * root). Prefixes that resolve to a declaration on the root, for an element below it, are
 * appended to `rootUsed` (without duplicates). Returns an error text, or null when all is well.
 */
export function checkNamespaces(el: Element, stack: readonly Element[], rootUsed: string[]): string | null {
  const attrs = el.attrs;
  let prefixed = 0;
  for (const key in attrs) {
    if (key.startsWith('xmlns')) {
      if (key.length === 5) {
        const v = attrs[key]!;
        if (v === XML_NS || v === XMLNS_NS) return `the namespace ${v} cannot be the default namespace`;
        continue;
      }
      if (key.charCodeAt(5) === 58) {
        const err = checkDeclaration(key.slice(6), attrs[key]!);
        if (err !== null) return err;
        continue;
      }
    }
    if (key.indexOf(':') > 0) prefixed++;
  }
  const name = el.name;
  const colon = name.indexOf(':');
  if (colon > 0) {
    const prefix = name.slice(0, colon);
    if (prefix === 'xmlns') return `element <${name}> must not use the xmlns prefix`;
    if (resolve(prefix, el, stack, rootUsed) === undefined) return `unbound namespace prefix '${prefix}' on <${name}>`;
  }
  if (prefixed === 0) return null;
  const seen: string[] = [];
  for (const key in attrs) {
    const c = key.indexOf(':');
    if (c < 0) continue;
    const prefix = key.slice(0, c);
    if (prefix === 'xmlns') continue;
    const uri = resolve(prefix, el, stack, rootUsed);
    if (uri === undefined) return `unbound namespace prefix '${prefix}' on attribute ${key} of <${name}>`;
    if (prefixed > 1) {
      const expanded = uri + '\u0000' + key.slice(c + 1); // NUL cannot occur in XML text
      if (seen.includes(expanded)) return `duplicate attribute ${key} on <${name}> (same namespace and name)`;
      seen.push(expanded);
    }
  }
  return null;
}

function checkDeclaration(prefix: string, uri: string): string | null {
  if (prefix === 'xmlns') return 'the xmlns prefix must not be declared';
  if (prefix === 'xml') return uri === XML_NS ? null : `the xml prefix can only be bound to ${XML_NS}`;
  if (uri === '') return `xmlns:${prefix}="" cannot undeclare a prefix in XML 1.0`;
  if (uri === XML_NS || uri === XMLNS_NS) return `the namespace ${uri} cannot be bound to prefix ${prefix}`;
  return null;
}

function resolve(prefix: string, el: Element, stack: readonly Element[], rootUsed: string[]): string | undefined {
  if (prefix === 'xml') return XML_NS;
  const key = 'xmlns:' + prefix;
  let uri = el.attrs[key];
  if (uri !== undefined) return uri;
  for (let d = stack.length - 1; d >= 1; d--) {
    uri = stack[d]!.attrs[key];
    if (uri !== undefined) return uri;
  }
  if (stack.length === 0) return undefined;
  uri = stack[0]!.attrs[key];
  if (uri !== undefined && !rootUsed.includes(prefix)) rootUsed.push(prefix);
  return uri;
}
