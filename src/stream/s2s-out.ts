// An outbound server-to-server stream from one local domain to one remote domain: header,
// STARTTLS when offered (required with s2s_require_encryption), dialback as the initiating
// server, then stanzas. It also carries db:verify requests for our receiving role.
// Each element is accepted only in the state where it belongs: a dialback answer before we
// asked, or for a pair we did not ask about, ends the stream (issue 9: a peer must not talk
// us into sending in clear). No stanza leaves before the stream is encrypted (when required)
// and authenticated.
// References: RFC 6120 §4, §4.9.3, §5; XEP-0220.
import type { Socket } from 'node:net';
import type { Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { StreamError } from '../core/errors.js';
import type { S2SSession } from '../core/session.js';
import type { Logger } from '../core/log.js';
import { XmlStream } from './xml-stream.js';
import { DialbackKeys, NS_DB, NS_DB_FEATURE, dbRequest, isDb } from './dialback.js';
import type { VerifyOutcome } from './s2s-in.js';

export interface S2SOutOptions {
  local: string;
  remote: string;
  log: Logger;
  keys: DialbackKeys;
  requireEncryption: boolean;
  /** s2s_secure_auth for this peer: it must present a certificate valid for its domain (the manager asks the route owner). */
  secureAuth: boolean;
  stanzaSizeLimit: number;
  /** Seconds from connection to a verified stream. */
  handshakeTimeout: number;
  /** The stream is verified and can carry stanzas. */
  onReady(s: S2SOut): void;
  /** The stream ended (failed before ready, or closed later), with the reason in words. */
  onDone(s: S2SOut, reason: string, wasReady: boolean): void;
}

type S2SOutState = 'wait-header' | 'wait-features' | 'starttls-sent' | 'tls-handshake' | 'dialback' | 'ready' | 'closed';

/** One db:verify we sent, and everyone waiting for its answer (a repeat joins, never overwrites). */
interface PendingVerify { waiters: Array<(o: VerifyOutcome) => void>; verify: Element }

/** A stanza as it goes on a server stream: serialized, without the client namespace. */
export function serverStanzaText(stanza: Element): string {
  if (stanza.attrs.xmlns === NS.CLIENT) delete stanza.attrs.xmlns;
  return stanza.toString();
}

export class S2SOut extends XmlStream implements S2SSession {
  readonly kind = 's2s-out' as const;
  state: S2SOutState = 'wait-header';
  readonly verified = new Set<string>();
  private peerStreamId = '';
  private peerDialback = false;
  private failure: string | undefined;
  /** Keyed by `stream id, from, to` of the db:verify we sent. */
  private readonly pendingVerify = new Map<string, PendingVerify>();
  private readonly timer: NodeJS.Timeout;
  lastActivity = Date.now();

  constructor(socket: Socket, private readonly opts: S2SOutOptions) {
    super(socket, opts.log, opts.stanzaSizeLimit, 's2sout');
    this.timer = setTimeout(() => {
      if (this.state !== 'ready') this.fail('connection-timeout', `no verified stream after ${opts.handshakeTimeout} s`);
    }, opts.handshakeTimeout * 1000);
    this.timer.unref();
    this.sendHeader();
  }

  protected header(): string {
    return `<?xml version='1.0'?><stream:stream xmlns='${NS.SERVER}' xmlns:stream='${NS.STREAMS}' xmlns:db='${NS_DB}' from='${this.opts.local}' to='${this.opts.remote}' version='1.0'>`;
  }

  /** TLS is required before dialback: s2s_require_encryption, or s2s_secure_auth (never dialback in clear then). */
  private get mustEncrypt(): boolean {
    return this.opts.requireEncryption || this.opts.secureAuth;
  }

  protected onStreamStart(name: string, attrs: Record<string, string>): void {
    if (this.state !== 'wait-header') return this.fail('policy-violation', 'the peer sent a second stream header');
    if (name !== 'stream:stream' || attrs['xmlns:stream'] !== NS.STREAMS || attrs.xmlns !== NS.SERVER) {
      return this.fail('invalid-namespace', 'the peer did not open a server stream');
    }
    this.peerStreamId = attrs.id ?? '';
    this.peerDialback = attrs['xmlns:db'] === NS_DB;
    if (attrs.version === undefined) {
      // A pre-1.0 peer offers no STARTTLS: refuse it when TLS is required, else dialback at once.
      if (!this.secure && this.mustEncrypt) {
        return this.fail('unsupported-version', 'the peer speaks pre-1.0 XMPP (no STARTTLS) and s2s_require_encryption or s2s_secure_auth is set');
      }
      this.state = 'dialback';
      return this.startDialback();
    }
    this.state = 'wait-features';
  }

  protected handle(el: Element): void {
    this.lastActivity = Date.now();
    switch (this.state) {
      case 'wait-features':
        if (el.name === 'stream:features') return this.features(el);
        break;
      case 'starttls-sent':
        if (el.xmlns === NS.TLS && el.local === 'proceed') return this.proceed();
        if (el.xmlns === NS.TLS && el.local === 'failure') return this.fail(null, 'the peer refused STARTTLS');
        break;
      case 'dialback':
        if (isDb(el, 'result') && el.attrs.type) return this.dialbackAnswer(el);
        if (isDb(el, 'verify') && el.attrs.type) return this.verifyAnswer(el);
        break;
      case 'ready':
        if (isDb(el, 'verify') && el.attrs.type) return this.verifyAnswer(el);
        // Peers send stanzas on their own outbound stream; without XEP-0288 they are dropped here.
        if (el.name === 'message' || el.name === 'presence' || el.name === 'iq') return;
        break;
      default:
        // 'tls-handshake': nothing may arrive in clear between <proceed/> and the TLS handshake.
        break;
    }
    const dialback = isDb(el, 'result') || isDb(el, 'verify');
    throw new StreamError(dialback ? 'not-authorized' : 'unsupported-stanza-type', `<${el.name}/> is not expected now (outbound stream state: ${this.state})`);
  }

  private proceed(): void {
    this.state = 'tls-handshake';
    this.upgradeTls({ isServer: false, servername: this.opts.remote }, () => {
      if (this.state !== 'tls-handshake') return;
      const { remote, secureAuth } = this.opts;
      const problem = secureAuth ? this.certificateProblem(remote) : undefined;
      if (problem) return this.fail('policy-violation', `s2s_secure_auth is on and ${remote} cannot be authenticated: ${problem}`);
      this.state = 'wait-header';
      this.sendHeader();
    });
  }

  /**
   * The peer said, before our stream was up, that it does not serve the domain we addressed
   * (host-unknown, host-gone): retrying cannot help, so what waits for it bounces at once.
   */
  unknownDomain = false;

  protected override peerStreamError(condition: string, text: string | undefined): void {
    if (this.state !== 'ready' && (condition === 'host-unknown' || condition === 'host-gone')) this.unknownDomain = true;
    this.fail(null, `the peer closed the stream: ${condition}${text ? ` (${text})` : ''}`);
  }

  private features(el: Element): void {
    const starttls = el.getChild('starttls', NS.TLS);
    if (!this.secure && starttls) {
      this.state = 'starttls-sent';
      this.writeNow(`<starttls xmlns='${NS.TLS}'/>`);
      return;
    }
    if (!this.secure && this.mustEncrypt) {
      return this.fail('policy-violation', 'the peer offers no STARTTLS and s2s_require_encryption or s2s_secure_auth is set');
    }
    if (!el.getChild('dialback', NS_DB_FEATURE) && !this.peerDialback) {
      return this.fail('unsupported-feature', 'the peer offers no dialback');
    }
    this.state = 'dialback';
    this.startDialback();
  }

  private startDialback(): void {
    const { local, remote, keys } = this.opts;
    this.send(dbRequest('result', local, remote, keys.key(remote, local, this.peerStreamId)));
    for (const p of this.pendingVerify.values()) this.send(p.verify);
  }

  private dialbackAnswer(el: Element): void {
    const { local, remote } = this.opts;
    if (el.attrs.from?.toLowerCase() !== remote || el.attrs.to?.toLowerCase() !== local) {
      throw new StreamError('not-authorized', `a dialback answer for a pair we did not ask about (we asked ${local} → ${remote})`);
    }
    const type = el.attrs.type;
    if (type === 'valid') {
      if (!this.secure && this.mustEncrypt) throw new StreamError('policy-violation', 'the stream is not encrypted');
      this.state = 'ready';
      clearTimeout(this.timer);
      this.verified.add(`${this.opts.remote} ${this.opts.local}`);
      this.opts.log.info({ remote: this.opts.remote, local: this.opts.local, tls: this.secure }, 'dialback: we are verified (outbound)');
      this.opts.onReady(this);
      return;
    }
    const condition = el.getChild('error')?.elements()[0]?.local;
    this.fail(null, type === 'invalid' ? 'the peer rejected our dialback key' : `dialback error from the peer: ${condition ?? 'unknown'}`);
  }

  /** Receiving role: ask the peer (authoritative for `remote`) about a key. */
  verify(streamId: string, key: string): Promise<VerifyOutcome> {
    const { local, remote } = this.opts;
    return new Promise((resolve) => {
      if (this.closed) return resolve({ error: this.failure ?? 'the connection closed' });
      const k = `${streamId} ${local} ${remote}`;
      const pending = this.pendingVerify.get(k);
      if (pending) return void pending.waiters.push(resolve);
      const verify = dbRequest('verify', local, remote, key, streamId);
      this.pendingVerify.set(k, { waiters: [resolve], verify });
      // Verification may run on a stream that is not verified itself (XEP-0220 §2.4).
      if (this.state === 'dialback' || this.state === 'ready') this.send(verify);
    });
  }

  private verifyAnswer(el: Element): void {
    // Our db:verify went from local to remote: the answer comes back from remote to local.
    const k = `${el.attrs.id ?? ''} ${el.attrs.to?.toLowerCase()} ${el.attrs.from?.toLowerCase()}`;
    const p = this.pendingVerify.get(k);
    if (!p) throw new StreamError('not-authorized', 'a db:verify answer for a key we did not send');
    this.pendingVerify.delete(k);
    const type = el.attrs.type;
    const outcome: VerifyOutcome = type === 'valid' ? 'valid' : type === 'invalid' ? 'invalid' : { error: 'the authoritative server answered with an error' };
    for (const resolve of p.waiters) resolve(outcome);
  }

  /** Send a stanza (or one serverStanzaText made); false (nothing sent) unless the stream is authenticated, and encrypted when required. */
  sendStanza(stanza: Element | string): boolean {
    if (this.state !== 'ready' || (!this.secure && this.mustEncrypt)) return false;
    this.lastActivity = Date.now();
    this.send(typeof stanza === 'string' ? stanza : serverStanzaText(stanza));
    return true;
  }

  private fail(condition: StreamError['condition'] | null, reason: string): void {
    this.failure ??= reason;
    this.close(condition ? new StreamError(condition, reason) : undefined);
  }

  protected onClosed(reason: string): void {
    const wasReady = this.state === 'ready';
    this.state = 'closed';
    clearTimeout(this.timer);
    const why = this.failure ?? (reason === 'closed' ? 'the connection closed' : reason);
    for (const p of this.pendingVerify.values()) for (const resolve of p.waiters) resolve({ error: why });
    this.pendingVerify.clear();
    this.opts.onDone(this, wasReady ? why : `${why} (before the stream was verified)`, wasReady);
  }
}
