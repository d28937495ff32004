// A small, typed XML element: the one tree type every layer of Clove passes around.
// Attribute values and text are stored unescaped; escaping happens once, in toString().

export type Attrs = Record<string, string>;
export type Node = Element | string;

const ESC_TEXT = /[&<>]/g;
const ESC_ATTR = /[&<>"']/g;
const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const escapeChar = (c: string): string => ENTITY[c] as string;

/** Escape character data for element content. */
export function escapeText(s: string): string {
  return ESC_TEXT.test(s) ? s.replace(ESC_TEXT, escapeChar) : s;
}

/** Escape an attribute value (quoted with "). */
export function escapeAttr(s: string): string {
  return ESC_ATTR.test(s) ? s.replace(ESC_ATTR, escapeChar) : s;
}

export class Element {
  name: string;
  attrs: Attrs;
  children: Node[];

  constructor(name: string, attrs?: Attrs | null, children?: Node[]) {
    this.name = name;
    this.attrs = attrs ?? {};
    this.children = children ?? [];
  }

  /** Local name without a prefix (`stream:features` → `features`). */
  get local(): string {
    const i = this.name.indexOf(':');
    return i < 0 ? this.name : this.name.slice(i + 1);
  }

  /** The namespace declared on this element, if any (its default `xmlns` or its prefix's). */
  get xmlns(): string | undefined {
    const i = this.name.indexOf(':');
    return i < 0 ? this.attrs.xmlns : this.attrs[`xmlns:${this.name.slice(0, i)}`];
  }

  /** Append a child and return it when it is an element (for chaining builders). */
  c(name: string, attrs?: Attrs | null): Element {
    const el = new Element(name, attrs);
    this.children.push(el);
    return el;
  }

  /** Append a child node and return this element. */
  append(...nodes: (Node | null | undefined | false)[]): this {
    for (const n of nodes) if (n !== null && n !== undefined && n !== false && n !== '') this.children.push(n);
    return this;
  }

  /** First child element with this local name (and namespace, if given). */
  getChild(name: string, xmlns?: string): Element | undefined {
    for (const c of this.children) {
      if (typeof c !== 'string' && c.local === name && (xmlns === undefined || c.xmlns === xmlns)) return c;
    }
    return undefined;
  }

  /** All child elements, optionally filtered by local name and namespace. */
  getChildren(name?: string, xmlns?: string): Element[] {
    const out: Element[] = [];
    for (const c of this.children) {
      if (typeof c === 'string') continue;
      if (name !== undefined && c.local !== name) continue;
      if (xmlns !== undefined && c.xmlns !== xmlns) continue;
      out.push(c);
    }
    return out;
  }

  /** Child elements only. */
  elements(): Element[] {
    return this.getChildren();
  }

  /** The first child element, whatever its name. */
  firstElement(): Element | undefined {
    for (const c of this.children) if (typeof c !== 'string') return c;
    return undefined;
  }

  /** Concatenated direct text content. */
  text(): string {
    let s = '';
    for (const c of this.children) if (typeof c === 'string') s += c;
    return s;
  }

  /** Text of the first child with this name, or undefined. */
  getChildText(name: string, xmlns?: string): string | undefined {
    return this.getChild(name, xmlns)?.text();
  }

  /** Deep copy. */
  clone(): Element {
    return new Element(
      this.name,
      { ...this.attrs },
      this.children.map((c) => (typeof c === 'string' ? c : c.clone())),
    );
  }

  /** Serialise to XML text. */
  toString(): string {
    let s = '<' + this.name;
    for (const k in this.attrs) {
      const v = this.attrs[k];
      if (v === undefined) continue;
      s += ' ' + k + '="' + escapeAttr(v) + '"';
    }
    if (this.children.length === 0) return s + '/>';
    s += '>';
    for (const c of this.children) s += typeof c === 'string' ? escapeText(c) : c.toString();
    return s + '</' + this.name + '>';
  }

  /** The opening tag alone (used for `<stream:stream>`). */
  openTag(): string {
    let s = '<' + this.name;
    for (const k in this.attrs) {
      const v = this.attrs[k];
      if (v !== undefined) s += ' ' + k + '="' + escapeAttr(v) + '"';
    }
    return s + '>';
  }
}

/** Build an element: `x('iq', { type: 'get' }, x('query', { xmlns: NS.ROSTER }))`. */
export function x(name: string, attrs?: Record<string, string | undefined> | null, ...children: (Node | null | undefined | false)[]): Element {
  const el = new Element(name, attrs ? stripUndefined(attrs) : {});
  return el.append(...children);
}

function stripUndefined(attrs: Record<string, string | undefined>): Attrs {
  const out: Attrs = {};
  for (const k in attrs) {
    const v = attrs[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
