// withAncestorNamespaces: a subtree cut out of its stanza keeps the declarations it uses.
import { describe, it, expect } from 'vitest';
import { parseElement } from '../../../src/xml/parse.js';
import { withAncestorNamespaces } from '../../../src/xml/ns-scope.js';
import type { Element } from '../../../src/xml/element.js';

/** Parse `xml` and return the element at `path` (child indexes) with its ancestors, outermost first. */
function cut(xml: string, ...path: number[]): [Element, Element[]] {
  const ancestors: Element[] = [];
  let el = parseElement(xml);
  for (const i of path) {
    ancestors.push(el);
    el = el.elements()[i]!;
  }
  return [el, ancestors];
}

describe('withAncestorNamespaces', () => {
  it('copies only the used prefixes and the default namespace, nearest declaration first', () => {
    const [el, up] = cut(`<iq xmlns:a='urn:a1' xmlns:unused='urn:u'><p xmlns='urn:d' xmlns:a='urn:a2' xmlns:b='urn:b'><e b:k='v'><a:c/></e></p></iq>`, 0, 0);
    expect(withAncestorNamespaces(el, up).attrs).toEqual({ 'b:k': 'v', xmlns: 'urn:d', 'xmlns:a': 'urn:a2', 'xmlns:b': 'urn:b' });
  });

  it('leaves what the subtree declares itself, the xml prefix, and an element already self-contained', () => {
    const [el, up] = cut(`<iq xmlns:a='urn:a1'><p xmlns='urn:d'><e xmlns='urn:own' xml:lang='en'><a:c xmlns:a='urn:inner'/></e></p></iq>`, 0, 0);
    const out = withAncestorNamespaces(el, up);
    expect(out.attrs).toEqual({ xmlns: 'urn:own', 'xml:lang': 'en' });
    expect(out.children).toBe(el.children);
  });

  it('adds the default namespace for an unprefixed descendant of a prefixed root', () => {
    const [el, up] = cut(`<iq xmlns:a='urn:a'><p xmlns='urn:d'><a:e><c/></a:e></p></iq>`, 0, 0);
    expect(withAncestorNamespaces(el, up).attrs).toEqual({ xmlns: 'urn:d', 'xmlns:a': 'urn:a' });
  });

  it('gives an unprefixed element the stream\'s default when no ancestor declares one', () => {
    const [el, up] = cut(`<iq><ps:pubsub xmlns:ps='urn:ps'><ps:item><note><body/></note></ps:item></ps:pubsub></iq>`, 0, 0, 0);
    expect(withAncestorNamespaces(el, up, 'jabber:client').attrs).toEqual({ xmlns: 'jabber:client' });
    const [inner, above] = cut(`<iq><p xmlns='urn:d'><note/></p></iq>`, 0, 0);
    expect(withAncestorNamespaces(inner, above, 'jabber:client').attrs).toEqual({ xmlns: 'urn:d' });
  });
});
