// Runs Clove's StreamParser (from dist/) over one input fed in given pieces, and turns what
// it produced into a canonical tree (names and attributes with resolved namespaces) that an
// independent parser's output can be compared with.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const parserPath = process.env.CLOVE_PARSER ?? new URL('../../dist/xml/parser.js', import.meta.url).pathname;
export const { StreamParser } = await import(pathToFileURL(resolve(parserPath)).href);

/**
 * Feed `pieces` (Buffers or strings) to a fresh parser. Returns { verdict: 'accept' (closed
 * root, no error) | 'reject' (error) | 'incomplete', condition, text, root: [name, attrs],
 * stanzas: Element[], threw }.
 */
export function runClove(pieces, limits) {
  const res = { verdict: 'incomplete', condition: null, text: null, root: null, stanzas: [], ended: false, threw: null, tailBytes: 0 };
  const p = new StreamParser(
    {
      streamStart(name, attrs) {
        res.root = [name, attrs];
      },
      stanza(el) {
        res.stanzas.push(el);
      },
      streamEnd() {
        res.ended = true;
      },
      error(condition, text) {
        res.condition = condition;
        res.text = text;
      },
    },
    limits,
  );
  try {
    for (const piece of pieces) p.write(piece);
  } catch (e) {
    res.threw = e;
  }
  res.verdict = res.condition !== null || res.threw ? 'reject' : res.ended ? 'accept' : 'incomplete';
  // Bytes held back at the end, unparsed: a tag whose '>' has not arrived (parsed only once it
  // has, so an error inside it is reported then), other look-ahead, an unfinished UTF-8 sequence.
  // These are private fields of the parser, read here for the fuzzer's accounting only.
  if (res.verdict !== 'reject') {
    res.tailBytes = (p.pend !== null ? p.pendBytes : Buffer.byteLength(p.carry)) + (p.input.tail?.length ?? 0);
  }
  return res;
}

/** Cut `buf` at the sorted offsets `cuts` (the last one is buf.length). */
export function cutBytes(buf, cuts) {
  const out = [];
  let prev = 0;
  for (const c of cuts) {
    if (c > prev) out.push(buf.subarray(prev, c));
    prev = c;
  }
  return out;
}

/** Cut a string at offsets (scaled from byte cuts; may split surrogate pairs, which is allowed). */
export function cutString(s, cuts, len) {
  const out = [];
  let prev = 0;
  for (const c of cuts) {
    const k = Math.round((c / len) * s.length);
    if (k > prev) out.push(s.slice(prev, k));
    prev = Math.max(prev, k);
  }
  if (prev < s.length) out.push(s.slice(prev));
  return out;
}

/** A cheap fingerprint of what the parser produced, for comparing runs over different splits. */
export function fingerprint(res) {
  return JSON.stringify(res.root) + '\n' + res.stanzas.map((el) => el.toString()).join('\n');
}

function expand(qname, scope, isAttr) {
  const c = qname.indexOf(':');
  if (c < 0) {
    const uri = isAttr ? '' : scope[''] ?? '';
    return uri === '' ? qname : `{${uri}}${qname}`;
  }
  const uri = scope[qname.slice(0, c)];
  return `{${uri}}${qname.slice(c + 1)}`;
}

function canonEl(el, parentScope) {
  const scope = Object.create(parentScope);
  for (const k in el.attrs) {
    if (k === 'xmlns') scope[''] = el.attrs[k];
    else if (k.startsWith('xmlns:')) scope[k.slice(6)] = el.attrs[k];
  }
  const attrs = [];
  for (const k in el.attrs) {
    if (k === 'xmlns' || k.startsWith('xmlns:')) continue;
    attrs.push([expand(k, scope, true), el.attrs[k]]);
  }
  attrs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const node = [expand(el.name, scope, false), attrs];
  for (const c of el.children) {
    if (typeof c === 'string') {
      if (c === '') continue;
      if (typeof node[node.length - 1] === 'string' && node.length > 2) node[node.length - 1] += c;
      else node.push(c);
    } else node.push(canonEl(c, scope));
  }
  return node;
}

const BASE_SCOPE = { xml: 'http://www.w3.org/XML/1998/namespace' }; // not frozen: scopes inherit from it and may set 'xml'

/** Canonical tree of an accepted run: [name, sorted attrs, ...children] with `{uri}local` names. */
export function canonical(res) {
  const [name, attrs] = res.root;
  const root = { name, attrs, children: res.stanzas };
  return canonEl(root, BASE_SCOPE);
}
