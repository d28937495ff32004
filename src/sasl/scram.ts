// SCRAM-SHA-1 and SCRAM-SHA-256 without channel binding (no -PLUS variants are offered).
// References: RFC 5802 (SCRAM), RFC 7677 (SCRAM-SHA-256), RFC 6120 §6.5 (failure conditions).

import { randomBytes } from 'node:crypto';
import { randomId } from '../random-id.js';
import {
  DEFAULT_ITERATIONS,
  safeEqual,
  scramHash,
  scramHmac,
  xorBuffers,
  type CredentialSource,
  type ScramCredential,
  type ScramHash,
} from './credentials.js';
import { askStore, checkAuthzid, decodeUtf8, prepUsername, SaslFailure, UNPACED, type Attempts, type SaslMechanism, type SaslSession, type SaslStep } from './mechanism.js';
import { fakeScram } from './fake-salt.js';

export interface ScramOptions {
  /** Server nonce generator; tests pin it to reproduce the RFC examples. */
  nonce?: () => string;
}

// Salts for unknown users come from the credential source's persistent key (see fake-salt.ts);
// a source without one (unit tests, `clove` commands) gets a key that lives as long as the process.
const PROCESS_KEY = randomBytes(32);

const NONCE = /^[\x21-\x2B\x2D-\x7E]+$/; // printable ASCII except ','
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function defaultNonce(): string {
  return randomId(18);
}

/** saslname (RFC 5802 §7): ',' and '=' travel as =2C and =3D; any other '=' is malformed. */
function decodeSaslname(s: string): string {
  if (/=(?!2C|3D)/.test(s)) throw new SaslFailure('malformed-request', 'bad escape in name');
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

function base64(s: string, what: string): Buffer {
  if (!BASE64.test(s)) throw new SaslFailure('malformed-request', `${what} is not base64`);
  return Buffer.from(s, 'base64');
}

type State =
  | { kind: 'start' }
  | { kind: 'waiting' } // sent an empty challenge for a missing initial response
  | {
      kind: 'first-sent';
      username: string;
      gs2Header: string;
      firstBare: string;
      serverFirst: string;
      nonce: string;
      cred: ScramCredential;
      known: boolean;
    }
  | { kind: 'done' };

class ScramSession implements SaslSession {
  private state: State = { kind: 'start' };

  constructor(
    private readonly hash: ScramHash,
    private readonly creds: CredentialSource,
    private readonly domain: string,
    private readonly makeNonce: () => string,
    private readonly attempts: Attempts,
  ) {}

  async step(input: Buffer): Promise<SaslStep> {
    const st = this.state;
    // Any failure ends the exchange; so does success.
    this.state = { kind: 'done' };
    switch (st.kind) {
      case 'start':
        if (input.length === 0) {
          this.state = { kind: 'waiting' };
          return { kind: 'challenge', data: Buffer.alloc(0) };
        }
        return this.clientFirst(decodeUtf8(input));
      case 'waiting':
        return this.clientFirst(decodeUtf8(input));
      case 'first-sent':
        return await this.clientFinal(st, decodeUtf8(input));
      case 'done':
        throw new SaslFailure('malformed-request', 'exchange already finished');
    }
  }

  private async clientFirst(msg: string): Promise<SaslStep> {
    // gs2-header = gs2-cbind-flag "," [ authzid ] ","
    const c1 = msg.indexOf(',');
    const c2 = c1 === -1 ? -1 : msg.indexOf(',', c1 + 1);
    if (c2 === -1) throw new SaslFailure('malformed-request');
    const flag = msg.slice(0, c1);
    if (flag.startsWith('p=')) {
      // The client wants channel binding, but we offered no -PLUS mechanism (RFC 5802 §6).
      throw new SaslFailure('malformed-request', 'channel binding is not supported');
    }
    // 'y' (client supports binding, thinks we do not) is honest here: we offer no -PLUS.
    if (flag !== 'n' && flag !== 'y') throw new SaslFailure('malformed-request');
    const authzField = msg.slice(c1 + 1, c2);
    if (authzField !== '' && !authzField.startsWith('a=')) throw new SaslFailure('malformed-request');
    const gs2Header = msg.slice(0, c2 + 1);
    const firstBare = msg.slice(c2 + 1);

    const attrs = firstBare.split(',');
    if (attrs[0]?.startsWith('m=')) throw new SaslFailure('malformed-request', 'mandatory extensions are not supported');
    if (attrs.length < 2 || !attrs[0]!.startsWith('n=') || !attrs[1]!.startsWith('r=')) {
      throw new SaslFailure('malformed-request');
    }
    const clientNonce = attrs[1]!.slice(2);
    if (!NONCE.test(clientNonce)) throw new SaslFailure('malformed-request', 'bad nonce');
    const rawName = decodeSaslname(attrs[0]!.slice(2));
    if (rawName === '') throw new SaslFailure('malformed-request', 'empty username');
    const username = prepUsername(rawName);
    checkAuthzid(authzField === '' ? '' : decodeSaslname(authzField.slice(2)), username, this.domain);

    const found = await askStore(() => this.creds.getScram(username, this.hash));
    const cred = found ?? this.fakeCredential(username);
    const nonce = clientNonce + this.makeNonce();
    const serverFirst = `r=${nonce},s=${cred.salt},i=${cred.iterations}`;
    this.state = { kind: 'first-sent', username, gs2Header, firstBare, serverFirst, nonce, cred, known: found !== undefined };
    return { kind: 'challenge', data: Buffer.from(serverFirst, 'utf8') };
  }

  private fakeCredential(username: string): ScramCredential {
    return fakeScram(this.creds.fakeSaltKey ?? PROCESS_KEY, username, this.hash, this.creds.scramIterations ?? DEFAULT_ITERATIONS);
  }

  private async clientFinal(st: Extract<State, { kind: 'first-sent' }>, msg: string): Promise<SaslStep> {
    // client-final-message = channel-binding "," nonce ["," extensions] "," proof
    const attrs = msg.split(',');
    const proofAttr = attrs[attrs.length - 1]!;
    if (attrs.length < 3 || !attrs[0]!.startsWith('c=') || !attrs[1]!.startsWith('r=') || !proofAttr.startsWith('p=')) {
      throw new SaslFailure('malformed-request');
    }
    const binding = base64(attrs[0]!.slice(2), 'channel binding');
    const proof = base64(proofAttr.slice(2), 'proof');
    const storedKey = Buffer.from(st.cred.storedKey, 'base64');
    if (proof.length !== storedKey.length) throw new SaslFailure('malformed-request', 'proof has the wrong length');
    // Without channel binding, c= carries exactly the gs2 header the client sent first.
    if (!safeEqual(binding, Buffer.from(st.gs2Header, 'utf8'))) throw new SaslFailure('not-authorized');
    if (attrs[1]!.slice(2) !== st.nonce) throw new SaslFailure('not-authorized');

    const withoutProof = msg.slice(0, msg.length - proofAttr.length - 1);
    const authMessage = `${st.firstBare},${st.serverFirst},${withoutProof}`;
    const clientSignature = scramHmac(this.hash, storedKey, authMessage);
    const clientKey = xorBuffers(proof, clientSignature);
    const valid = safeEqual(scramHash(this.hash, clientKey), storedKey) && st.known;
    // The proof is the guess: its verdict waits for the account's turn (no hashing is left to do).
    if (!(await this.attempts.check(st.username, async () => valid))) throw new SaslFailure('not-authorized');
    const serverSignature = scramHmac(this.hash, Buffer.from(st.cred.serverKey, 'base64'), authMessage);
    return { kind: 'success', username: st.username, data: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8') };
  }
}

/** Build a SCRAM mechanism for one hash. */
export function createScram(hash: ScramHash, opts: ScramOptions = {}): SaslMechanism {
  const name = hash === 'sha1' ? 'SCRAM-SHA-1' : 'SCRAM-SHA-256';
  const makeNonce = opts.nonce ?? defaultNonce;
  return { name, start: (creds, domain, attempts = UNPACED) => new ScramSession(hash, creds, domain, makeNonce, attempts) };
}

export const SCRAM_SHA_1: SaslMechanism = createScram('sha1');
export const SCRAM_SHA_256: SaslMechanism = createScram('sha256');
