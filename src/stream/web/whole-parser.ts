// Parses one complete XML document at a time with the stream parser and its limits: a WebSocket
// frame (RFC 7395: one element per frame, parsed inside a made-up stream root) or a BOSH
// request's `<body/>` (XEP-0124). The input is already bounded in bytes by the transport.
import type { Element } from '../../xml/element.js';
import { StreamParser, type ParserLimits, type XmlErrorCondition } from '../../xml/parser.js';

export interface WholeDocument {
  /** The root's qualified name and attributes (namespace declarations included). */
  readonly name: string;
  readonly attrs: Record<string, string>;
  /** The root's children, each with its size in bytes. */
  readonly children: { el: Element; bytes: number }[];
}

export interface WholeError {
  readonly condition: XmlErrorCondition | 'bad-format';
  readonly text: string;
}

/** A reusable parser for whole documents (one per connection or session). */
export class WholeParser {
  private readonly parser: StreamParser;
  private doc: { name: string; attrs: Record<string, string>; children: { el: Element; bytes: number }[] } | undefined;
  private ended = false;
  private failure: WholeError | undefined;

  constructor(limits: Partial<ParserLimits>) {
    this.parser = new StreamParser({
      streamStart: (name, attrs) => { this.doc = { name, attrs, children: [] }; },
      stanza: (el, bytes) => { this.doc?.children.push({ el, bytes }); },
      streamEnd: () => { this.ended = true; },
      error: (condition, text) => { this.failure ??= { condition, text }; },
    }, limits);
  }

  /** Parse the concatenation of `chunks` as one document; an error unless it is complete and well-formed. */
  parse(...chunks: string[]): WholeDocument | WholeError {
    this.parser.reset();
    this.doc = undefined;
    this.ended = false;
    this.failure = undefined;
    for (const c of chunks) {
      this.parser.write(c);
      if (this.failure) return this.failure;
    }
    const doc = this.doc;
    if (!doc || !this.ended) return { condition: 'bad-format', text: 'the XML is not complete' };
    return doc;
  }
}

/** True when `r` is a parse error, not a document. */
export function isWholeError(r: WholeDocument | WholeError): r is WholeError {
  return 'condition' in r;
}
