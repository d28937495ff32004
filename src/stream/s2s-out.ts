// An outbound server-to-server stream from one local domain to one remote domain: header,
// STARTTLS when offered (required with s2s_require_encryption), dialback as the initiating
// server, then stanzas. It also carries db:verify requests for our receiving role.
// References: RFC 6120 §4, §5; XEP-0220.
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
  /** s2s_secure_auth: the peer (unless .i2p) must present a certificate valid for its domain. */
  secureAuth: boolean;
  stanzaSizeLimit: number;
  /** Seconds from connection to a verified stream. */
  handshakeTimeout: number;
  /** The stream is verified and can carry stanzas. */
  onReady(s: S2SOut): void;
  /** The stream ended (failed before ready, or closed later), with the reason in words. */
  onDone(s: S2SOut, reason: string, wasReady: boolean): void;
}

type S2SOutState = 'wait-header' | 'wait-features' | 'tls-handshake' | 'dialback' | 'ready' | 'closed';

export class S2SOut extends XmlStream implements S2SSession {
  readonly kind = 's2s-out' as const;
  state: S2SOutState = 'wait-header';
  readonly verified = new Set<string>();
  private peerStreamId = '';
  private peerDialback = false;
  private failure: string | undefined;
  private readonly pendingVerify = new Map<string, { resolve(o: VerifyOutcome): void; verify: Element }>();
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

  protected onStreamStart(name: string, attrs: Record<string, string>): void {
    if (name !== 'stream:stream' || attrs['xmlns:stream'] !== NS.STREAMS || attrs.xmlns !== NS.SERVER) {
      return this.fail('invalid-namespace', 'the peer did not open a server stream');
    }
    this.peerStreamId = attrs.id ?? '';
    this.peerDialback = attrs['xmlns:db'] === NS_DB;
    if (attrs.version === undefined) {
      // A pre-1.0 peer sends no features: dialback right away.
      this.state = 'dialback';
      return this.startDialback();
    }
    this.state = 'wait-features';
  }

  protected handle(el: Element): void {
    this.lastActivity = Date.now();
    if (this.state === 'wait-features' && el.local === 'features') return this.features(el);
    if (this.state === 'tls-handshake' && el.local === 'proceed' && el.xmlns === NS.TLS) {
      this.upgradeTls({ isServer: false, servername: this.opts.remote }, () => {
        const { remote, secureAuth } = this.opts;
        const problem = secureAuth && !remote.endsWith('.i2p') ? this.certificateProblem(remote) : undefined;
        if (problem) return this.fail('policy-violation', `s2s_secure_auth is on and ${remote} cannot be authenticated: ${problem}`);
        this.state = 'wait-header';
        this.sendHeader();
      });
      return;
    }
    if (el.local === 'failure' && el.xmlns === NS.TLS) return this.fail(null, 'the peer refused STARTTLS');
    if (isDb(el, 'result')) return this.dialbackAnswer(el);
    if (isDb(el, 'verify')) return this.verifyAnswer(el);
    // Peers send stanzas on their own outbound stream, not on ours; anything else is ignored.
  }

  protected override peerStreamError(condition: string, text: string | undefined): void {
    this.fail(null, `the peer closed the stream: ${condition}${text ? ` (${text})` : ''}`);
  }

  private features(el: Element): void {
    const starttls = el.getChild('starttls', NS.TLS);
    if (!this.secure && starttls) {
      this.state = 'tls-handshake';
      this.writeNow(`<starttls xmlns='${NS.TLS}'/>`);
      return;
    }
    if (!this.secure && this.opts.requireEncryption) {
      return this.fail('policy-violation', 'the peer offers no STARTTLS and s2s_require_encryption is set');
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
    const type = el.attrs.type;
    if (type === 'valid') {
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
    return new Promise((resolve) => {
      const verify = dbRequest('verify', this.opts.local, this.opts.remote, key, streamId);
      this.pendingVerify.set(streamId, { resolve, verify });
      // Verification may run on a stream that is not verified itself (XEP-0220 §2.4).
      if (this.state === 'dialback' || this.state === 'ready') this.send(verify);
    });
  }

  private verifyAnswer(el: Element): void {
    const id = el.attrs.id ?? '';
    const p = this.pendingVerify.get(id);
    if (!p) return;
    this.pendingVerify.delete(id);
    const type = el.attrs.type;
    p.resolve(type === 'valid' ? 'valid' : type === 'invalid' ? 'invalid' : { error: 'the authoritative server answered with an error' });
  }

  /** Send a stanza (only once ready; the manager queues before that). */
  sendStanza(stanza: Element): void {
    this.lastActivity = Date.now();
    if (stanza.attrs.xmlns === NS.CLIENT) delete stanza.attrs.xmlns;
    this.send(stanza);
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
    for (const p of this.pendingVerify.values()) p.resolve({ error: why });
    this.pendingVerify.clear();
    this.opts.onDone(this, wasReady ? why : `${why} (before the stream was verified)`, wasReady);
  }
}
