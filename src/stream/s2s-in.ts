// An inbound server-to-server stream: STARTTLS, then dialback (receiving and authoritative
// roles), then stanzas from the domains verified on it.
// References: RFC 6120 §4, §5, §13.7; XEP-0220 (dialback); XEP-0288 is not implemented.
import { randomId } from '../random-id.js';
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { StreamError } from '../core/errors.js';
import type { S2SSession } from '../core/session.js';
import type { Host } from '../core/host.js';
import type { Logger } from '../core/log.js';
import { tryParseJid } from '../jid/jid.js';
import { XmlStream } from './xml-stream.js';
import { DialbackKeys, NS_DB, NS_DB_FEATURE, dbAnswer, isDb } from './dialback.js';
import { INBOUND_DIALBACK_ATTEMPTS } from './s2s-limits.js';

/** An authoritative server's answer, or why there is none (condition: the db:result error to send). */
export type VerifyOutcome = 'valid' | 'invalid' | { error: string; condition?: 'resource-constraint' };

export interface S2SInOptions {
  hosts: ReadonlyMap<string, Host>;
  log: Logger;
  tls(host: string): SecureContext | undefined;
  requireEncryption(host: string): boolean;
  /**
   * s2s_secure_auth: whether `remote` must prove its domain with a certificate on a stream to
   * `host`; without `remote`, whether any peer may have to (a certificate is then asked for).
   * The route owner decides which peers a certificate can prove (src/main.ts).
   */
  secureAuth(host: string, remote?: string): boolean;
  stanzaSizeLimit: number;
  keys: DialbackKeys;
  /** Receiving role: ask `remote`'s authoritative server whether `key` is its key for this stream. */
  verify(local: string, remote: string, streamId: string, key: string): Promise<VerifyOutcome>;
  /** Seconds an inbound stream may take to verify its first domain. */
  authTimeout: number;
  /** Seconds a verified inbound stream may stay idle before it is closed. */
  idleTimeout?(): number;
  /** Told when the stream's first domain is verified (connection caps count unverified ones). */
  onVerified?(stream: S2SIn): void;
}

type S2SInState = 'expect-stream' | 'open' | 'tls-handshake' | 'closed';

export class S2SIn extends XmlStream implements S2SSession {
  readonly kind = 's2s-in' as const;
  state: S2SInState = 'expect-stream';
  readonly verified = new Set<string>();
  /** Our stream id, what dialback keys of this stream are computed over. */
  readonly streamId = randomId(12);
  private localHost = '';
  private peerVersion = false;
  private authTimer: NodeJS.Timeout | undefined;
  /** Pairs (`remote local`) whose db:result is being verified. */
  private readonly pending = new Set<string>();
  /** db:result requests on this stream that are pending or did not verify. */
  private unverified = 0;

  constructor(socket: Socket, private readonly opts: S2SInOptions, private readonly onDone?: (s: S2SIn) => void) {
    super(socket, opts.log, opts.stanzaSizeLimit, 's2sin');
    this.authTimer = setTimeout(() => {
      if (this.verified.size === 0) this.close(new StreamError('connection-timeout', 'no domain was verified in time'));
    }, opts.authTimeout * 1000);
    this.authTimer.unref();
  }

  protected header(): string {
    const from = this.localHost ? ` from='${this.localHost}'` : '';
    const version = this.peerVersion ? ` version='1.0'` : '';
    return `<?xml version='1.0'?><stream:stream xmlns='${NS.SERVER}' xmlns:stream='${NS.STREAMS}' xmlns:db='${NS_DB}' id='${this.streamId}'${from}${version}>`;
  }

  protected onStreamStart(name: string, attrs: Record<string, string>): void {
    const to = attrs.to?.toLowerCase();
    if (to && !this.localHost && this.opts.hosts.has(to)) this.localHost = to;
    this.peerVersion = attrs.version !== undefined && /^1\.\d+$/.test(attrs.version);
    this.sendHeader();
    if (name !== 'stream:stream' || attrs['xmlns:stream'] !== NS.STREAMS) {
      return this.close(new StreamError('invalid-namespace', 'the root must be <stream:stream> in the streams namespace'));
    }
    if (attrs.xmlns !== NS.SERVER) return this.close(new StreamError('invalid-namespace', `expected the ${NS.SERVER} namespace`));
    if (to !== undefined && !this.opts.hosts.has(to)) return this.close(new StreamError('host-unknown', `this server does not serve ${to}`));
    if (this.state === 'expect-stream' || this.state === 'tls-handshake') this.state = 'open';
    if (this.peerVersion) this.sendFeatures();
  }

  private sendFeatures(): void {
    const features = x('stream:features');
    const host = this.localHost;
    if (!this.secure && host && this.opts.tls(host)) {
      const st = features.c('starttls', { xmlns: NS.TLS });
      if (this.opts.requireEncryption(host)) st.c('required');
    }
    features.append(x('dialback', { xmlns: NS_DB_FEATURE }, x('errors')));
    this.send(features);
  }

  protected handle(el: Element): void | Promise<void> {
    if (this.state === 'closed') return;
    // Nothing may follow <starttls/> in clear (RFC 6120 §5.4.3.3): it would be injected data.
    if (this.state !== 'open') throw new StreamError('policy-violation', `<${el.name}/> is not expected before the stream is open`);
    if (el.local === 'starttls' && el.xmlns === NS.TLS) return this.startTls();
    // Answers (with a type) belong on the stream that carried our request, our outbound one.
    if ((isDb(el, 'result') || isDb(el, 'verify')) && el.attrs.type) throw new StreamError('not-authorized', `a dialback answer on an inbound stream`);
    if (isDb(el, 'result')) return this.dialbackResult(el);
    if (isDb(el, 'verify')) return this.dialbackVerify(el);
    if (el.name === 'message' || el.name === 'presence' || el.name === 'iq') return this.stanza(el);
    throw new StreamError('unsupported-stanza-type', `<${el.name}/> is not expected on a server stream`);
  }

  private startTls(): void {
    const ctx = this.secure || !this.localHost ? undefined : this.opts.tls(this.localHost);
    if (!ctx) {
      this.writeNow(`<failure xmlns='${NS.TLS}'/>`);
      return this.close();
    }
    this.writeNow(`<proceed xmlns='${NS.TLS}'/>`);
    this.state = 'tls-handshake';
    // Ask for a certificate only where s2s_secure_auth may need it; peers without one still connect.
    this.upgradeTls({ isServer: true, secureContext: ctx, requestCert: this.opts.secureAuth(this.localHost) }, () => {});
  }

  /**
   * Receiving role: a peer claims a domain; ask that domain's authoritative server. The answer
   * is not awaited here: the peer may itself ask us to verify a key on this very stream while
   * we wait (both servers dialing back at once), and stanzas are processed in order.
   */
  private dialbackResult(el: Element): void {
    const remote = el.attrs.from?.toLowerCase();
    const local = el.attrs.to?.toLowerCase();
    const key = el.text();
    if (!remote || !local || !key) throw new StreamError('bad-format', 'db:result needs from, to and a key');
    if (!this.opts.hosts.has(local)) {
      this.send(dbAnswer('result', local, remote, 'error', undefined, 'item-not-found'));
      return;
    }
    if (this.opts.requireEncryption(local) && !this.secure) {
      throw new StreamError('policy-violation', 'encryption is required before dialback (s2s_require_encryption)');
    }
    if (this.opts.secureAuth(local, remote)) {
      const problem = this.certificateProblem(remote);
      if (problem) throw new StreamError('policy-violation', `s2s_secure_auth is on and ${remote} cannot be authenticated: ${problem}`);
    }
    // Each request may make us connect out: a few per stream (amplification, issue 9), and
    // never to a domain of our own, which only a forger would claim.
    if (this.opts.hosts.has(remote)) throw new StreamError('invalid-from', `${remote} is a domain of this server`);
    const pair = `${remote} ${local}`;
    if (this.pending.has(pair)) return; // a repeat: the answer to the first one is on its way
    if (this.unverified >= INBOUND_DIALBACK_ATTEMPTS) {
      throw new StreamError('policy-violation', `at most ${INBOUND_DIALBACK_ATTEMPTS} dialback requests may be pending or fail on one stream`);
    }
    this.unverified++;
    if (!tryParseJid(remote) || remote.includes('@') || remote.includes('/')) {
      this.send(dbAnswer('result', local, remote, 'error', undefined, 'bad-request'));
      return;
    }
    this.pending.add(pair);
    void this.opts.verify(local, remote, this.streamId, key).then((outcome) => this.verifiedAnswer(local, remote, outcome));
  }

  private verifiedAnswer(local: string, remote: string, outcome: VerifyOutcome): void {
    this.pending.delete(`${remote} ${local}`);
    if (this.closed) return;
    if (outcome === 'valid') {
      this.unverified--;
      this.verified.add(`${remote} ${local}`);
      if (this.authTimer) clearTimeout(this.authTimer);
      if (this.verified.size === 1) {
        if (this.opts.idleTimeout) this.closeWhenIdle(this.opts.idleTimeout());
        this.opts.onVerified?.(this);
      }
      this.log.info({ remote, local }, 'dialback: peer verified (inbound)');
      this.send(dbAnswer('result', local, remote, 'valid'));
    } else if (outcome === 'invalid') {
      this.log.warn({ remote, local }, 'dialback: peer failed verification (inbound)');
      this.send(dbAnswer('result', local, remote, 'invalid'));
    } else {
      this.log.warn({ remote, local, why: outcome.error }, 'dialback: could not verify peer');
      this.send(dbAnswer('result', local, remote, 'error', undefined, outcome.condition ?? 'remote-server-not-found'));
    }
  }

  /** Authoritative role: a receiving server asks whether a key is ours. */
  private dialbackVerify(el: Element): void {
    const receiving = el.attrs.from?.toLowerCase();
    const originating = el.attrs.to?.toLowerCase();
    const id = el.attrs.id;
    if (!receiving || !originating || !id) throw new StreamError('bad-format', 'db:verify needs from, to and id');
    if (!this.opts.hosts.has(originating)) {
      this.send(dbAnswer('verify', originating, receiving, 'error', id, 'item-not-found'));
      return;
    }
    const ok = this.opts.keys.check(el.text(), receiving, originating, id);
    this.send(dbAnswer('verify', originating, receiving, ok ? 'valid' : 'invalid', id));
  }

  /** A stanza: both addresses present, the pair verified on this stream, `to` hosted here. */
  private stanza(el: Element): void | Promise<void> {
    if (el.attrs.xmlns !== undefined && el.attrs.xmlns !== NS.SERVER) {
      throw new StreamError('invalid-namespace', `stanzas must be in ${NS.SERVER}`);
    }
    delete el.attrs.xmlns;
    const from = el.attrs.from !== undefined ? tryParseJid(el.attrs.from) : null;
    const to = el.attrs.to !== undefined ? tryParseJid(el.attrs.to) : null;
    if (!from || !to) throw new StreamError('improper-addressing', 'server stanzas need valid from and to addresses');
    if (!this.verified.has(`${from.domain} ${to.domain}`)) {
      // A forged or unverified `from` is what an operator must see; the stream error alone is
      // logged at debug. Domains only: never a user's address or message.
      const why = `${from.domain} is not verified on this stream for ${to.domain}`;
      this.log.warn({ from: from.domain, to: to.domain, verified: [...this.verified].map((p) => p.split(' ')[0]) }, `s2s: refused a stanza (invalid-from): ${why}`);
      throw new StreamError('invalid-from', why);
    }
    const host = this.opts.hosts.get(to.domain);
    if (!host) throw new StreamError('host-unknown', `this server does not serve ${to.domain}`);
    return host.router.route(el, this);
  }

  /** A local domain is no longer served (config reload): its pairs end, and the stream with them when none is left. */
  forgetLocal(domain: string, error: StreamError): void {
    let had = this.localHost === domain;
    for (const pair of [...this.verified]) {
      if (pair.endsWith(` ${domain}`)) {
        this.verified.delete(pair);
        had = true;
      }
    }
    if (had && this.verified.size === 0) this.close(error);
  }

  protected onClosed(): void {
    this.state = 'closed';
    if (this.authTimer) clearTimeout(this.authTimer);
    this.onDone?.(this);
  }
}
