// An external component's stream (XEP-0114, jabber:component:accept): the component names its
// domain in the header, proves the shared secret with <handshake/>, then exchanges stanzas
// as that domain. Bounded like every other stream (xml-stream.ts): stanza size, read-ahead,
// one element at a time before the handshake, and a deadline for the handshake.
// What Prosody's mod_component does: no `to` → improper-addressing; a domain that is not an
// external component → host-unknown; a wrong handshake, or no component_secret → not-authorized;
// a second connection for a connected component → conflict (the newcomer is refused);
// a `from` outside the component's domain → invalid-from; a stanza without `to` → bad-request.
// References: XEP-0114; RFC 6120 §4.9 (stream errors).
import { randomId } from '../random-id.js';
import type { Socket } from 'node:net';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { StanzaError, StreamError, errorReply } from '../core/errors.js';
import type { ComponentSession, Session } from '../core/session.js';
import type { Logger } from '../core/log.js';
import { XmlStream } from '../stream/xml-stream.js';
import { handshakeMatches } from './handshake.js';
import { fromProblem, toProblem } from './addressing.js';
import type { ComponentLinks } from './links.js';

export interface ComponentStreamOptions {
  log: Logger;
  links: ComponentLinks;
  stanzaSizeLimit: number;
  /** Seconds from connection to a successful handshake. */
  authTimeout: number;
  /** Route a stanza the component sent (its `from` already checked). */
  route(stanza: Element, origin: Session): void | Promise<void>;
  /** Told when the handshake succeeded (connection caps count the others). */
  onAuthenticated?(stream: ComponentStream): void;
}

type ComponentState = 'expect-stream' | 'handshake' | 'ready' | 'closed';

const STANZAS = new Set(['message', 'presence', 'iq']);

export class ComponentStream extends XmlStream implements ComponentSession {
  readonly kind = 'component' as const;
  state: ComponentState = 'expect-stream';
  /** The stream id the handshake digest is computed over. */
  readonly streamId = randomId(12);
  domain = '';
  private readonly authTimer: NodeJS.Timeout;

  constructor(socket: Socket, private readonly opts: ComponentStreamOptions, private readonly onDone?: (s: ComponentStream) => void) {
    super(socket, opts.log, opts.stanzaSizeLimit, 'component');
    this.authTimer = setTimeout(() => {
      if (this.state !== 'ready') this.close(new StreamError('connection-timeout', 'no handshake in time'));
    }, opts.authTimeout * 1000);
    this.authTimer.unref();
  }

  protected override get inputTrusted(): boolean {
    return this.state === 'ready';
  }

  protected header(): string {
    const from = this.domain ? ` from='${this.domain}'` : '';
    return `<?xml version='1.0'?><stream:stream xmlns='${NS.COMPONENT}' xmlns:stream='${NS.STREAMS}' id='${this.streamId}'${from}>`;
  }

  protected onStreamStart(name: string, attrs: Record<string, string>): void {
    if (this.state !== 'expect-stream') return this.close(new StreamError('policy-violation', 'a component stream is not restarted'));
    const to = attrs.to?.toLowerCase();
    const known = to !== undefined && this.opts.links.find(to) !== undefined;
    if (known) this.domain = to;
    this.sendHeader();
    if (name !== 'stream:stream' || attrs['xmlns:stream'] !== NS.STREAMS || attrs.xmlns !== NS.COMPONENT) {
      return this.close(new StreamError('invalid-namespace', `expected a <stream:stream> in the ${NS.COMPONENT} namespace`));
    }
    if (to === undefined) return this.close(new StreamError('improper-addressing', "a 'to' attribute is required on stream headers"));
    if (!known) return this.close(new StreamError('host-unknown', `${to.slice(0, 255)} does not match any configured external component`));
    this.state = 'handshake';
  }

  protected handle(el: Element): void | Promise<void> {
    if (this.state === 'handshake') return this.handshake(el);
    if (this.state !== 'ready') return;
    if (!STANZAS.has(el.name)) throw new StreamError('unsupported-stanza-type', `<${el.name}/> is not expected on a component stream`);
    return this.stanza(el);
  }

  private handshake(el: Element): void {
    if (el.name !== 'handshake' || (el.xmlns !== undefined && el.xmlns !== NS.COMPONENT)) {
      throw new StreamError('not-authorized', 'the first element must be <handshake/>');
    }
    const secret = this.opts.links.find(this.domain)?.secret();
    if (secret === undefined) {
      this.log.warn({ component: this.domain }, 'external component refused: component_secret is not set for it');
      throw new StreamError('not-authorized', 'this component has no secret configured');
    }
    if (el.elements().length > 0 || !handshakeMatches(el.text(), this.streamId, secret)) {
      this.log.info({ component: this.domain }, 'external component authentication failed');
      throw new StreamError('not-authorized', 'given token does not match calculated token');
    }
    if (!this.opts.links.attach(this)) {
      this.log.warn({ component: this.domain }, 'a second connection for a connected component was refused');
      throw new StreamError('conflict', 'component already connected');
    }
    this.state = 'ready';
    clearTimeout(this.authTimer);
    this.send(x('handshake'));
    this.log.info({ component: this.domain }, 'external component authenticated');
    this.opts.onAuthenticated?.(this);
  }

  private stanza(el: Element): void | Promise<void> {
    const ns = el.attrs.xmlns;
    if (ns !== undefined && ns !== NS.COMPONENT && ns !== NS.CLIENT) throw new StreamError('invalid-namespace', `stanzas must be in ${NS.COMPONENT}`);
    delete el.attrs.xmlns;
    const badFrom = fromProblem(el.attrs.from, this.domain);
    if (badFrom) throw new StreamError('invalid-from', badFrom);
    const noTo = toProblem(el.attrs.to);
    if (noTo) {
      const reply = errorReply(el, new StanzaError('bad-request', noTo));
      if (reply) this.send(reply);
      return;
    }
    return this.opts.route(el, this);
  }

  /** Send to the component: stanzas go in the stream's own namespace, without jabber:client/server. */
  override send(stanza: Element | string): void {
    if (typeof stanza !== 'string' && (stanza.attrs.xmlns === NS.CLIENT || stanza.attrs.xmlns === NS.SERVER)) delete stanza.attrs.xmlns;
    super.send(stanza);
  }

  protected onClosed(): void {
    this.state = 'closed';
    clearTimeout(this.authTimer);
    if (this.domain) this.opts.links.detach(this);
    this.onDone?.(this);
  }
}
