// Streaming XML parser for XMPP streams: strict XML 1.0 with namespaces, the RFC 6120 §11
// restrictions, and size limits enforced while data is still arriving.
// References: RFC 6120 §4.9.3 (stream error conditions), §11 (XML usage);
// XML 1.0 (Fifth Edition); Namespaces in XML 1.0 (Third Edition).
//
// Design: the chunk is decoded once and scanned with indexOf/charCodeAt; complete tags are
// parsed in one pass. Only small look-ahead (an unfinished reference, `<!`, a trailing CR or
// `]`) is carried over as text; a tag cut by a chunk boundary is collected in pieces while a
// quote-aware scan looks for its end, so a tag sent one byte at a time costs linear time.

import { Element } from './element.js';
import { BAD_CHAR } from './parser-chars.js';
import { StreamInput } from './parser-input.js';
import { checkNamespaces } from './parser-ns.js';
import { keptRoot } from './parser-root.js';
import { FAIL, MORE, bang, endTag, out, pi, startTag, tagEnd, textSlow, trailCut, xmlDecl } from './parser-tags.js';

export type XmlErrorCondition = 'not-well-formed' | 'restricted-xml' | 'policy-violation' | 'unsupported-encoding';

export interface ParserLimits {
  /** Bytes of one stanza, from its `<` to the end of its close tag; also bounds the root's open tag. */
  maxStanzaBytes: number;
  /** Element nesting below the root: a stanza is at depth 1. */
  maxDepth: number;
  /** Attributes (namespace declarations included) on one element. */
  maxAttrs: number;
  /**
   * Elements in one stanza, itself included. Bytes alone do not bound memory: a stanza of empty
   * `<a/>` costs ~35 bytes of heap per byte of input as a tree.
   */
  maxElements: number;
}

/** Prosody's c2s stanza limit, and generous bounds for nesting and attributes. */
export const DEFAULT_LIMITS: ParserLimits = Object.freeze({ maxStanzaBytes: 262144, maxDepth: 64, maxAttrs: 64, maxElements: 4096 });

export interface ParserHandlers {
  /** The root's open tag: raw qualified name and raw attributes (xmlns declarations included). */
  streamStart(name: string, attrs: Record<string, string>): void;
  /** Each complete child of the root, in order, with its size in bytes as received. */
  stanza(el: Element, bytes: number): void;
  /** The root's close tag. */
  streamEnd(): void;
  /** Called once; afterwards the parser ignores all input until reset(). */
  error(condition: XmlErrorCondition, text: string): void;
}

const START = 0; // nothing seen yet: an XML declaration may come
const PROLOG = 1; // before the root element
const ROOT = 2; // inside the root
const EPILOG = 3; // after the root's close tag

const isWs = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;

function byteLength(s: string, a: number, b: number, ascii: boolean): number {
  return ascii ? b - a : Buffer.byteLength(s.slice(a, b));
}

function indexOr(s: string, needle: string, from: number, n: number): number {
  const k = s.indexOf(needle, from);
  return k < 0 ? n : k;
}

function appendText(el: Element, text: string): void {
  const ch = el.children;
  const last = ch.length - 1;
  if (last >= 0 && typeof ch[last] === 'string') ch[last] += text;
  else ch.push(text);
}

/** Incremental parser for one XMPP stream (restartable with reset()). */
export class StreamParser {
  private readonly h: ParserHandlers;
  private maxBytes: number;
  private maxDepth: number;
  private maxAttrs: number;
  private maxElements: number;

  private input = new StreamInput();
  private state = START;
  private stack: Element[] = [];
  private carry = '';
  private carryAscii = true;
  private inCdata = false;
  private pend: string[] | null = null; // pieces of a tag cut by the end of the data
  private pendQuote = 0;
  private pendBytes = 0;
  private pendAscii = true;
  private stanzaBytes = 0;
  private stanzaElements = 0;
  /** hold() was called: stop at the next stanza boundary. */
  private holdRequested = false;
  /** Stopped at a stanza boundary; input waits in `carry` until resume(). */
  private halted = false;
  private rootUsed: string[] = [];
  private failed = false;
  private gen = 0; // bumped by reset() and by errors: stops work on the current data
  private writing = false;

  constructor(handlers: ParserHandlers, limits?: Partial<ParserLimits>) {
    this.h = handlers;
    this.maxBytes = DEFAULT_LIMITS.maxStanzaBytes;
    this.maxDepth = DEFAULT_LIMITS.maxDepth;
    this.maxAttrs = DEFAULT_LIMITS.maxAttrs;
    this.maxElements = DEFAULT_LIMITS.maxElements;
    if (limits) this.setLimits(limits);
  }

  /** Change limits; they apply from the next check on. */
  setLimits(limits: Partial<ParserLimits>): void {
    const check = (v: number | undefined, what: string): number | undefined => {
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new RangeError(`${what} must be a positive integer`);
      return v;
    };
    this.maxBytes = check(limits.maxStanzaBytes, 'maxStanzaBytes') ?? this.maxBytes;
    this.maxDepth = check(limits.maxDepth, 'maxDepth') ?? this.maxDepth;
    this.maxAttrs = check(limits.maxAttrs, 'maxAttrs') ?? this.maxAttrs;
    this.maxElements = check(limits.maxElements, 'maxElements') ?? this.maxElements;
  }

  /**
   * Stop handing out stanzas after the current one (flow control: the consumer is full). Input
   * written meanwhile is kept undecoded-into-trees in the carry-over text until resume().
   */
  hold(): void {
    this.holdRequested = true;
  }

  /** Carry on after hold(): parse what was kept (unless called from a handler, which just continues). */
  resume(): void {
    this.holdRequested = false;
    if (!this.halted) return;
    this.halted = false;
    if (this.failed || this.writing || this.carry === '') return;
    this.writing = true;
    try {
      const s = this.carry;
      this.carry = '';
      this.parse(s, 0, this.carryAscii);
    } catch (e) {
      this.failed = true;
      this.gen++;
      throw e;
    } finally {
      this.writing = false;
    }
  }

  /** True while hold() has stopped the parser at a stanza boundary. */
  get held(): boolean {
    return this.halted;
  }

  /**
   * Start over for a new stream (after STARTTLS or SASL). Called from a handler, the rest of
   * the data being written is discarded: bytes after `<starttls/>` must never reach the new stream.
   */
  reset(): void {
    this.gen++;
    this.input = new StreamInput();
    this.state = START;
    this.stack = [];
    this.carry = '';
    this.inCdata = false;
    this.pend = null;
    this.stanzaBytes = 0;
    this.rootUsed = [];
    this.failed = false;
    this.halted = false;
  }

  /** Feed bytes (UTF-8) or text, cut anywhere. */
  write(chunk: Buffer | string): void {
    if (this.failed) return;
    if (this.writing) throw new Error('StreamParser.write() called from a handler');
    this.writing = true;
    try {
      const input = this.input;
      const s = typeof chunk === 'string' ? input.string(chunk) : input.bytes(chunk);
      if (s === null) return this.fail(input.condition, input.text);
      if (s.length === 0) return;
      const bad = BAD_CHAR.exec(s);
      if (bad !== null) {
        const code = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
        return this.fail('not-well-formed', `character U+${code} is not allowed in XML`);
      }
      if (this.halted) {
        // Held at a stanza boundary: keep the text for resume(), parse nothing.
        this.carry += s;
        this.carryAscii &&= input.ascii;
        return;
      }
      this.feed(s, input.ascii);
    } catch (e) {
      this.failed = true; // a throwing handler leaves the stream in an unknown state
      this.gen++;
      throw e;
    } finally {
      this.writing = false;
    }
  }

  private feed(s: string, ascii: boolean): void {
    const pend = this.pend;
    if (pend !== null) {
      out.quote = this.pendQuote;
      const end = tagEnd(s, 0);
      this.pendQuote = out.quote;
      if (end === FAIL) return this.failCutTag(pend.join('') + s.slice(0, out.at));
      if (end === MORE) {
        pend.push(s);
        this.pendBytes += byteLength(s, 0, s.length, ascii);
        this.pendAscii &&= ascii;
        this.checkPending();
        return;
      }
      // Parse the completed tag on its own, then the rest: no copy of the whole chunk.
      this.pend = null;
      pend.push(s.slice(0, end + 1));
      const gen = this.gen;
      this.parse(pend.join(''), 0, ascii && this.pendAscii);
      if (gen !== this.gen || end + 1 === s.length) return;
      if (this.halted) {
        this.carry = s.slice(end + 1);
        this.carryAscii = ascii;
        return;
      }
      // The quote-aware scan and the tag parser agree on where a tag ends; be safe if not.
      if (this.pend !== null || this.carry !== '') return this.nwf('malformed tag');
      this.parse(s, end + 1, ascii);
      return;
    }
    if (this.carry !== '') {
      s = this.carry + s;
      ascii &&= this.carryAscii;
      this.carry = '';
    }
    this.parse(s, 0, ascii);
  }

  private parse(s: string, from: number, ascii: boolean): void {
    const gen = this.gen;
    const n = s.length;
    const stack = this.stack;
    let i = from;
    let acc = from; // bytes of the open stanza before `acc` are counted in stanzaBytes
    let keep = n; // where unconsumed data starts
    let pendAt = -1;
    let nLt = -1; // cached positions of the next '<', '&', CR, ']]>' (n when none)
    let nAmp = -1;
    let nCr = -1;
    let nCd = -1;
    if (this.state === START) {
      i = xmlDecl(s, n);
      if (i === FAIL) return this.failOut();
      if (i === MORE) {
        this.carry = s;
        this.carryAscii = ascii;
        return;
      }
      this.state = PROLOG;
    }
    while (i < n) {
      const depth = stack.length;
      if (this.inCdata) {
        const e = s.indexOf(']]>', i);
        const end = e < 0 ? trailCut(s, i, n, false) : e;
        if (this.stanzaBytes + (end - acc) > this.maxBytes) return this.tooBig();
        if (end > i) {
          const text = s.slice(i, end);
          appendText(stack[depth - 1]!, text.indexOf('\r') >= 0 ? text.replace(/\r\n?/g, '\n') : text);
        }
        if (e < 0) {
          keep = end;
          break;
        }
        this.inCdata = false;
        i = e + 3;
        continue;
      }
      let c = s.charCodeAt(i);
      if (c !== 60) {
        if (depth >= 2) {
          // Character data inside a stanza.
          if (nLt < i) nLt = indexOr(s, '<', i, n);
          let end = nLt;
          if (end === n) end = keep = trailCut(s, i, n, true);
          if (this.stanzaBytes + (end - acc) > this.maxBytes) return this.tooBig();
          if (end > i) {
            if (nAmp < i) nAmp = indexOr(s, '&', i, n);
            if (nCr < i) nCr = indexOr(s, '\r', i, n);
            if (nCd < i) nCd = indexOr(s, ']]>', i, n);
            let text: string | null;
            if (nAmp >= end && nCr >= end && nCd >= end) text = s.slice(i, end);
            else if ((text = textSlow(s, i, end)) === null) return this.failOut();
            appendText(stack[depth - 1]!, text);
          }
          if (end === nLt && end < n) {
            i = end;
            continue;
          }
          break;
        }
        // Outside stanzas only whitespace may appear (RFC 6120 §11.7; XML prolog and epilog).
        while (isWs(c) && ++i < n) c = s.charCodeAt(i);
        if (i >= n) break;
        if (c !== 60) return this.nwf(depth === 1 ? 'text is not allowed between stanzas' : 'text outside the root element');
      }
      // Markup at i.
      if (i + 1 >= n) {
        keep = i;
        break;
      }
      c = s.charCodeAt(i + 1);
      if (c === 47) {
        const r = endTag(s, i, n, stack[depth - 1]?.name);
        if (r < 0) {
          if (r === FAIL) return this.failOut();
          pendAt = keep = i;
          break;
        }
        const el = stack.pop()!;
        if (depth === 1) {
          this.state = EPILOG;
          this.h.streamEnd();
          if (gen !== this.gen) return;
        } else if (depth === 2) {
          const bytes = this.stanzaBytes + byteLength(s, acc, r, ascii);
          if (bytes > this.maxBytes) return this.tooBig();
          this.emit(el, bytes);
          if (gen !== this.gen) return;
          if (this.holdRequested) {
            this.halted = true;
            keep = r;
            break;
          }
        }
        i = r;
      } else if (c === 33) {
        const r = bang(s, i, n, depth >= 2);
        if (r < 0) {
          if (r === FAIL) return this.failOut();
          keep = i;
          break;
        }
        this.inCdata = true;
        i = r;
      } else if (c === 63) {
        if (pi(s, i, n) === FAIL) return this.failOut();
        keep = i;
        break;
      } else {
        if (this.state === EPILOG) return this.nwf('content after the end of the stream');
        const r = startTag(s, i, n, this.maxAttrs);
        if (r < 0) {
          if (r === FAIL) return this.failOut();
          pendAt = keep = i;
          break;
        }
        const el = out.el!;
        const self = out.self;
        const ns = out.ns;
        if (depth === 0) {
          if (byteLength(s, i, r, ascii) > this.maxBytes) return this.policy(`stream header larger than ${this.maxBytes} bytes`);
          if (ns && !this.namespaces(el)) return;
          stack.push(keptRoot(el));
          this.state = ROOT;
          this.h.streamStart(el.name, el.attrs);
          if (gen !== this.gen) return;
          if (self) {
            stack.pop();
            this.state = EPILOG;
            this.h.streamEnd();
            if (gen !== this.gen) return;
          }
        } else {
          if (depth > this.maxDepth) return this.policy(`elements nested deeper than ${this.maxDepth}`);
          if (depth === 1) {
            this.stanzaBytes = 0;
            this.stanzaElements = 0;
            if (this.rootUsed.length !== 0) this.rootUsed = [];
            acc = i;
          }
          if (++this.stanzaElements > this.maxElements) return this.policy(`more than ${this.maxElements} elements in one stanza`);
          if (this.stanzaBytes + (r - acc) > this.maxBytes) return this.tooBig();
          if (ns && !this.namespaces(el)) return;
          if (depth >= 2) stack[depth - 1]!.children.push(el);
          if (!self) stack.push(el);
          else if (depth === 1) {
            const bytes = byteLength(s, acc, r, ascii);
            if (bytes > this.maxBytes) return this.tooBig();
            this.emit(el, bytes);
            if (gen !== this.gen) return;
            if (this.holdRequested) {
              this.halted = true;
              keep = r;
              break;
            }
          }
        }
        i = r;
      }
    }
    // Out of data: count what the open stanza has consumed; keep the rest for the next write.
    if (stack.length >= 2) {
      this.stanzaBytes += byteLength(s, acc, keep, ascii);
      if (this.stanzaBytes > this.maxBytes) return this.tooBig();
    } else if (stack.length === 1) {
      // Between stanzas, the usual state of an idle stream: a stack that held a stanza's
      // elements keeps room for 17 (~0.15 KB); a fresh one holds just the root.
      this.stack = [stack[0]!];
    }
    if (pendAt >= 0) {
      out.quote = 0;
      if (tagEnd(s, pendAt + 1) === FAIL) return this.failCutTag(s.slice(pendAt, out.at));
      this.pendQuote = out.quote;
      this.pend = [s.slice(pendAt)];
      this.pendBytes = byteLength(s, pendAt, n, ascii);
      this.pendAscii = ascii;
      this.checkPending();
    } else if (keep < n) {
      this.carry = s.slice(keep);
      this.carryAscii = ascii;
    }
  }

  /** Namespace checks for an element about to be pushed. */
  private namespaces(el: Element): boolean {
    const err = checkNamespaces(el, this.stack, this.rootUsed);
    if (err === null) return true;
    this.nwf(err);
    return false;
  }

  /** Hand a complete stanza over, made self-contained with the root's prefix declarations. */
  private emit(el: Element, bytes: number): void {
    const used = this.rootUsed;
    if (used.length > 0) {
      const root = this.stack[0]!.attrs;
      for (const prefix of used) el.attrs['xmlns:' + prefix] = root['xmlns:' + prefix]!;
      this.rootUsed = [];
    }
    this.h.stanza(el, bytes);
  }

  /**
   * A tag cut by the end of the data holds '<' (just after `tag`). Report the first error in
   * document order, as when the tag arrives whole: a bad reference or one attribute too many
   * before the '<' comes first, so the condition does not depend on where the data was cut.
   */
  private failCutTag(tag: string): void {
    const { condition, error } = out;
    if (tag.charCodeAt(1) !== 47) {
      out.quote = 0;
      tagEnd(tag, 1); // only for the quote state at the '<': there is no '<' before it
      const closed = tag + (out.quote !== 0 ? String.fromCharCode(out.quote) : '') + '>';
      if (startTag(closed, 0, closed.length, this.maxAttrs) === FAIL) return this.failOut();
    }
    this.fail(condition, error);
  }

  private checkPending(): void {
    const limit = this.stack.length >= 2 ? this.maxBytes - this.stanzaBytes : this.maxBytes;
    if (this.pendBytes > limit) {
      if (this.stack.length === 0) this.policy(`stream header larger than ${this.maxBytes} bytes`);
      else this.tooBig();
    }
  }

  private tooBig(): void {
    this.policy(`stanza larger than ${this.maxBytes} bytes`);
  }

  private policy(text: string): void {
    this.fail('policy-violation', text);
  }

  private nwf(text: string): void {
    this.fail('not-well-formed', text);
  }

  private failOut(): void {
    this.fail(out.condition, out.error);
  }

  private fail(condition: XmlErrorCondition, text: string): void {
    if (this.failed) return;
    this.failed = true;
    this.gen++;
    this.pend = null;
    this.carry = '';
    this.stack = [];
    this.h.error(condition, text);
  }
}
