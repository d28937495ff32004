// The two error families of the house (docs/architecture.md, house rule 4), each mapped to XML in this one place.
// References: RFC 6120 §4.9 (stream errors), §8.3 (stanza errors).
import { Element, x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { StorageBusyError } from '../storage/store.js';

export type StreamErrorCondition =
  | 'bad-format' | 'bad-namespace-prefix' | 'conflict' | 'connection-timeout' | 'host-gone'
  | 'host-unknown' | 'improper-addressing' | 'internal-server-error' | 'invalid-from'
  | 'invalid-namespace' | 'invalid-xml' | 'not-authorized' | 'not-well-formed' | 'policy-violation'
  | 'remote-connection-failed' | 'reset' | 'resource-constraint' | 'restricted-xml' | 'see-other-host'
  | 'system-shutdown' | 'undefined-condition' | 'unsupported-encoding' | 'unsupported-feature'
  | 'unsupported-stanza-type' | 'unsupported-version';

export type StanzaErrorCondition =
  | 'bad-request' | 'conflict' | 'feature-not-implemented' | 'forbidden' | 'gone'
  | 'internal-server-error' | 'item-not-found' | 'jid-malformed' | 'not-acceptable' | 'not-allowed'
  | 'not-authorized' | 'policy-violation' | 'recipient-unavailable' | 'redirect'
  | 'registration-required' | 'remote-server-not-found' | 'remote-server-timeout'
  | 'resource-constraint' | 'service-unavailable' | 'subscription-required'
  | 'undefined-condition' | 'unexpected-request';

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

/** The error type RFC 6120 §8.3.3 gives each condition. */
const DEFAULT_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  'bad-request': 'modify', conflict: 'cancel', 'feature-not-implemented': 'cancel', forbidden: 'auth',
  gone: 'cancel', 'internal-server-error': 'cancel', 'item-not-found': 'cancel', 'jid-malformed': 'modify',
  'not-acceptable': 'modify', 'not-allowed': 'cancel', 'not-authorized': 'auth', 'policy-violation': 'modify',
  'recipient-unavailable': 'wait', redirect: 'modify', 'registration-required': 'auth',
  'remote-server-not-found': 'cancel', 'remote-server-timeout': 'wait', 'resource-constraint': 'wait',
  'service-unavailable': 'cancel', 'subscription-required': 'auth', 'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
};

/** A stanza-level error: thrown by handlers, turned into `<error/>` replies by the framework. */
export class StanzaError extends Error {
  readonly type: StanzaErrorType;
  constructor(readonly condition: StanzaErrorCondition, readonly text?: string, type?: StanzaErrorType, readonly extra?: Element) {
    super(text ? `${condition}: ${text}` : condition);
    this.type = type ?? DEFAULT_TYPE[condition];
  }

  /** The `<error/>` child element. */
  toElement(by?: string): Element {
    const el = x('error', { type: this.type, by });
    el.c(this.condition, { xmlns: NS.STANZA_ERRORS });
    if (this.text) el.append(x('text', { xmlns: NS.STANZA_ERRORS, 'xml:lang': 'en' }, this.text));
    if (this.extra) el.append(this.extra);
    return el;
  }
}

/**
 * The stanza error a peer is told when handling its stanza failed with `err`: a StanzaError as
 * it is; resource-constraint (wait) when storage refused a write because too much waits for it
 * (the peer may try again later); anything else is internal-server-error. `unexpected`: the
 * last kind, a failure worth an error in the log.
 */
export function stanzaErrorFor(err: unknown): { error: StanzaError; unexpected: boolean } {
  if (err instanceof StanzaError) return { error: err, unexpected: false };
  if (err instanceof StorageBusyError) {
    return { error: new StanzaError('resource-constraint', "the server's storage is busy; try again later", 'wait'), unexpected: false };
  }
  return { error: new StanzaError('internal-server-error'), unexpected: true };
}

/** A stream-level error: the session sends `<stream:error/>` and closes the stream. */
export class StreamError extends Error {
  constructor(readonly condition: StreamErrorCondition, readonly text?: string) {
    super(text ? `${condition}: ${text}` : condition);
  }

  /** The `<stream:error/>` element. */
  toElement(): Element {
    const el = x('stream:error', null, x(this.condition, { xmlns: NS.STREAM_ERRORS }));
    if (this.text) el.append(x('text', { xmlns: NS.STREAM_ERRORS, 'xml:lang': 'en' }, this.text));
    return el;
  }
}

export type ServerErrorCode =
  | 'config' | 'certificate' | 'listen' | 'storage' | 'module' | 'account' | 'usage';

/** Start-up, configuration and command-line problems: a stable code and one clear line. */
export class ServerError extends Error {
  constructor(readonly code: ServerErrorCode, message: string) {
    super(message);
  }
}

/**
 * Build the error reply to a stanza (RFC 6120 §8.3.1): swap to/from, keep id and children
 * as they were, type="error". Returns undefined for stanzas that must never be answered
 * with an error (errors themselves, and iq results).
 */
export function errorReply(stanza: Element, err: StanzaError): Element | undefined {
  const type = stanza.attrs.type;
  if (type === 'error') return undefined;
  if (stanza.name === 'iq' && type === 'result') return undefined;
  const attrs: Record<string, string> = { type: 'error' };
  if (stanza.attrs.id !== undefined) attrs.id = stanza.attrs.id;
  if (stanza.attrs.from !== undefined) attrs.to = stanza.attrs.from;
  if (stanza.attrs.to !== undefined) attrs.from = stanza.attrs.to;
  // The original payload goes back with the error so the sender's client can tell which
  // request or message failed (RFC 6120 §8.3.1 allows it; Pidgin shows it).
  const reply = new Element(stanza.name, attrs);
  for (const c of stanza.children) {
    if (typeof c !== 'string' && c.name !== 'error') reply.children.push(c);
  }
  reply.children.push(err.toElement());
  return reply;
}
