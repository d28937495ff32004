// A SCRAM client written independently of the server code (only node:crypto), used to check
// the server against the RFC examples and in full exchanges.

import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';

export type Hash = 'sha1' | 'sha256';

export class ScramClient {
  readonly gs2Header: string;
  readonly firstBare: string;
  private serverSignature: Buffer | undefined;

  constructor(
    private readonly hash: Hash,
    username: string,
    private readonly password: string,
    private readonly clientNonce: string,
    opts: { flag?: string; authzid?: string } = {},
  ) {
    const esc = (s: string): string => s.replace(/=/g, '=3D').replace(/,/g, '=2C');
    this.gs2Header = `${opts.flag ?? 'n'},${opts.authzid === undefined ? '' : `a=${esc(opts.authzid)}`},`;
    this.firstBare = `n=${esc(username)},r=${clientNonce}`;
  }

  first(): string {
    return this.gs2Header + this.firstBare;
  }

  final(serverFirst: string, opts: { binding?: string; nonce?: string } = {}): string {
    const attrs = Object.fromEntries(serverFirst.split(',').map((a) => [a[0], a.slice(2)]));
    const nonce = attrs.r as string;
    if (!nonce.startsWith(this.clientNonce)) throw new Error('server nonce does not extend ours');
    const salted = pbkdf2Sync(this.password, Buffer.from(attrs.s as string, 'base64'), Number(attrs.i), this.hash === 'sha1' ? 20 : 32, this.hash);
    const hmac = (k: Buffer, d: string): Buffer => createHmac(this.hash, k).update(d).digest();
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const withoutProof = `c=${opts.binding ?? Buffer.from(this.gs2Header).toString('base64')},r=${opts.nonce ?? nonce}`;
    const authMessage = `${this.firstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  serverFinalOk(serverFinal: string): boolean {
    return serverFinal === `v=${this.serverSignature!.toString('base64')}`;
  }
}
