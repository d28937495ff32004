// Namespace declarations in scope: Clove keeps raw names and no parent links on elements, so a
// subtree cut out of its stanza (a pubsub item payload, stored and sent elsewhere later) loses
// the declarations its ancestors made. This copies the ones it uses onto its root.
// Reference: Namespaces in XML 1.0 (Third Edition) §6.
import { Element } from './element.js';

const declKey = (prefix: string): string => (prefix === '' ? 'xmlns' : 'xmlns:' + prefix);

/** The declaration keys (`xmlns`, `xmlns:p`) `el`'s subtree uses without declaring them itself. */
function undeclared(el: Element): Set<string> {
  const need = new Set<string>();
  const todo: [Element, ReadonlySet<string>][] = [[el, new Set()]];
  for (let next = todo.pop(); next; next = todo.pop()) {
    const [e, outer] = next;
    let declared = outer;
    for (const key in e.attrs) {
      if (key === 'xmlns' || key.startsWith('xmlns:')) {
        if (declared === outer) declared = new Set(outer);
        (declared as Set<string>).add(key);
      }
    }
    const use = (prefix: string): void => {
      const key = declKey(prefix);
      if (prefix !== 'xml' && !declared.has(key)) need.add(key);
    };
    const colon = e.name.indexOf(':');
    use(colon < 0 ? '' : e.name.slice(0, colon));
    for (const key in e.attrs) {
      const c = key.indexOf(':');
      if (c > 0 && !key.startsWith('xmlns:')) use(key.slice(0, c));
    }
    for (const child of e.children) if (typeof child !== 'string') todo.push([child, declared]);
  }
  return need;
}

/**
 * A copy of `el` (children shared) that means the same anywhere: the declarations its subtree
 * uses from `ancestors` (outermost first, as in the stanza) are put on its root. `outerDefault`
 * is the default namespace in force above the outermost ancestor (a stream header's), for an
 * unprefixed element no ancestor gave a default to.
 */
export function withAncestorNamespaces(el: Element, ancestors: readonly Element[], outerDefault?: string): Element {
  const scope = new Map<string, string>();
  if (outerDefault !== undefined) scope.set('xmlns', outerDefault);
  for (const a of ancestors) {
    for (const key in a.attrs) if (key === 'xmlns' || key.startsWith('xmlns:')) scope.set(key, a.attrs[key]!);
  }
  const attrs = { ...el.attrs };
  for (const key of undeclared(el)) {
    const uri = scope.get(key);
    if (uri !== undefined && uri !== '') attrs[key] = uri;
  }
  return new Element(el.name, attrs, el.children);
}
