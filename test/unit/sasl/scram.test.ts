import { beforeAll, describe, expect, it } from 'vitest';
import { deriveScram, type ScramCredential } from '../../../src/sasl/credentials.js';
import { SaslFailure, type SaslSession } from '../../../src/sasl/mechanism.js';
import { createScram, SCRAM_SHA_1, SCRAM_SHA_256 } from '../../../src/sasl/scram.js';
import { FakeCreds } from './fake-creds.js';
import { failure } from './failure.js';
import { ScramClient, type Hash } from './scram-client.js';

async function challenge(s: SaslSession, msg: string): Promise<string> {
  const r = await s.step(Buffer.from(msg));
  if (r.kind !== 'challenge') throw new Error('expected a challenge');
  return r.data.toString();
}

const RFC = {
  sha1: {
    rfc: 'RFC 5802 §5',
    salt: 'QSXCR+Q6sek8bf92',
    clientFirst: 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL',
    clientNonce: 'fyko+d2lbbFgONRv9qkxdawL',
    serverNonce: '3rfcNHYJY1ZVvWVs7j',
    serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
    clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
    serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
  },
  sha256: {
    rfc: 'RFC 7677 §3',
    salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
    clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
    clientNonce: 'rOprNGfwEbeRWgbNEkqO',
    serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
  },
} as const;

describe.each(['sha1', 'sha256'] as const)('SCRAM %s test vectors', (hash) => {
  const v = RFC[hash];

  it(`a client computes the ${v.rfc} messages`, () => {
    const c = new ScramClient(hash, 'user', 'pencil', v.clientNonce);
    expect(c.first()).toBe(v.clientFirst);
    expect(c.final(v.serverFirst)).toBe(v.clientFinal);
    expect(c.serverFinalOk(v.serverFinal)).toBe(true);
  });

  it(`the server reproduces the ${v.rfc} exchange from a stored credential`, async () => {
    const cred = await deriveScram('pencil', hash, 4096, Buffer.from(v.salt, 'base64'));
    const creds = new FakeCreds();
    creds.users.set('user', { sha1: cred, sha256: cred });
    const s = createScram(hash, { nonce: () => v.serverNonce }).start(creds, 'example.com');
    expect(await challenge(s, v.clientFirst)).toBe(v.serverFirst);
    const done = await s.step(Buffer.from(v.clientFinal));
    expect(done.kind).toBe('success');
    expect(done.kind === 'success' && done.username).toBe('user');
    expect(done.kind === 'success' && done.data?.toString()).toBe(v.serverFinal);
  });
});

describe.each([
  ['sha1', SCRAM_SHA_1, 'SCRAM-SHA-1'],
  ['sha256', SCRAM_SHA_256, 'SCRAM-SHA-256'],
] as const)('%s exchange', (hash: Hash, mech, name) => {
  let creds: FakeCreds;
  beforeAll(async () => {
    creds = await new FakeCreds().add('juliet', 'r0m30myr0m30');
    await creds.add('a,b=c', 'pw', 1000);
  });

  const run = async (c: ScramClient, domain = 'example.com'): Promise<{ user: string; verified: boolean }> => {
    const s = mech.start(creds, domain);
    const serverFirst = await challenge(s, c.first());
    const r = await s.step(Buffer.from(c.final(serverFirst)));
    if (r.kind !== 'success') throw new Error('expected success');
    return { user: r.username, verified: c.serverFinalOk(r.data!.toString()) };
  };

  it('has the IANA name', () => expect(mech.name).toBe(name));

  it('authenticates a full client/server exchange and proves the server knows the key', async () => {
    expect(await run(new ScramClient(hash, 'juliet', 'r0m30myr0m30', 'abc123'))).toEqual({ user: 'juliet', verified: true });
  });

  it('prepares the username', async () => {
    expect((await run(new ScramClient(hash, 'JULIET', 'r0m30myr0m30', 'n1'))).user).toBe('juliet');
  });

  it('decodes =2C and =3D in names', async () => {
    expect((await run(new ScramClient(hash, 'a,b=c', 'pw', 'n2'))).user).toBe('a,b=c');
  });

  it("accepts gs2 flag 'y' and an authzid equal to the bare JID", async () => {
    expect((await run(new ScramClient(hash, 'juliet', 'r0m30myr0m30', 'n3', { flag: 'y' }))).verified).toBe(true);
    expect((await run(new ScramClient(hash, 'juliet', 'r0m30myr0m30', 'n4', { authzid: 'juliet@example.com' }))).verified).toBe(true);
  });

  it('rejects another authzid with invalid-authzid', async () => {
    const c = new ScramClient(hash, 'juliet', 'r0m30myr0m30', 'n5', { authzid: 'romeo@example.com' });
    expect(await failure(mech.start(creds, 'example.com').step(Buffer.from(c.first())))).toBe('invalid-authzid');
  });

  it('rejects a wrong password with not-authorized', async () => {
    await expect(run(new ScramClient(hash, 'juliet', 'wrong', 'n6'))).rejects.toMatchObject({ condition: 'not-authorized' });
  });

  it('sends unknown users a stable fake challenge, then not-authorized', async () => {
    const probe = async (user: string): Promise<Record<string, string>> => {
      const s = mech.start(creds, 'example.com');
      const c = new ScramClient(hash, user, 'guess', 'n7');
      const sf = await challenge(s, c.first());
      expect(await failure(s.step(Buffer.from(c.final(sf))))).toBe('not-authorized');
      return Object.fromEntries(sf.split(',').map((a) => [a[0]!, a.slice(2)]));
    };
    const a = await probe('nobody');
    const b = await probe('nobody');
    const other = await probe('somebody');
    expect(a.s).toBe(b.s);
    expect(a.s).not.toBe(other.s);
    expect(Buffer.from(a.s!, 'base64')).toHaveLength(16);
    expect(a.i).toBe('4096');
    expect(a.r).not.toBe(b.r);
  });

  it('uses the credential source iteration count for fake challenges', async () => {
    const c2 = new FakeCreds();
    c2.scramIterations = 10000;
    const sf = await challenge(mech.start(c2, 'example.com'), 'n,,n=ghost,r=x');
    expect(sf).toMatch(/,i=10000$/);
  });

  it("rejects channel binding ('p') with malformed-request", async () => {
    const c = new ScramClient(hash, 'juliet', 'r0m30myr0m30', 'n8', { flag: 'p=tls-unique' });
    const e = await mech.start(creds, 'example.com').step(Buffer.from(c.first())).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SaslFailure);
    expect(e).toMatchObject({ condition: 'malformed-request', text: 'channel binding is not supported' });
  });

  it.each([
    ['no gs2 header', 'n=juliet,r=abc'],
    ['unknown gs2 flag', 'x,,n=juliet,r=abc'],
    ['bad authzid field', 'n,z=foo,n=juliet,r=abc'],
    ['mandatory extension', 'n,,m=ext,n=juliet,r=abc'],
    ['missing nonce', 'n,,n=juliet'],
    ['attributes out of order', 'n,,r=abc,n=juliet'],
    ['empty nonce', 'n,,n=juliet,r='],
    ['comma-free nonce with a control char', 'n,,n=juliet,r=a\u0001b'],
    ['bad escape', 'n,,n=ju=41liet,r=abc'],
    ['empty username', 'n,,n=,r=abc'],
    ['invalid UTF-8', Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xc3, 0x28, 0x2c, 0x72, 0x3d, 0x61])],
  ])('rejects a client-first with %s', async (_what, m) => {
    expect(await failure(mech.start(creds, 'example.com').step(Buffer.isBuffer(m) ? m : Buffer.from(m)))).toBe('malformed-request');
  });

  it('rejects an impossible username with not-authorized', async () => {
    expect(await failure(mech.start(creds, 'example.com').step(Buffer.from('n,,n=a b,r=abc')))).toBe('not-authorized');
  });

  const finalCases: Array<[string, (c: ScramClient, sf: string) => string, string]> = [
    ['a mismatched channel binding', (c, sf) => c.final(sf, { binding: Buffer.from('y,,').toString('base64') }), 'not-authorized'],
    ['a changed nonce', (c, sf) => c.final(sf, { nonce: `${sf.split(',')[0]!.slice(2)}x` }), 'not-authorized'],
    ['a short proof', (c, sf) => c.final(sf).replace(/p=.*$/, 'p=AAAA'), 'malformed-request'],
    ['a proof that is not base64', (c, sf) => c.final(sf).replace(/p=.*$/, 'p=!!!!'), 'malformed-request'],
    ['no proof', (c, sf) => c.final(sf).replace(/,p=.*$/, ''), 'malformed-request'],
    ['attributes out of order', (c, sf) => c.final(sf).split(',').reverse().join(','), 'malformed-request'],
  ];
  it.each(finalCases)('rejects a client-final with %s', async (_what, make, condition) => {
    const s = mech.start(creds, 'example.com');
    const c = new ScramClient(hash, 'juliet', 'r0m30myr0m30', 'n9');
    const sf = await challenge(s, c.first());
    expect(await failure(s.step(Buffer.from(make(c, sf))))).toBe(condition);
  });

  it('accepts extensions in the client-final before the proof', async () => {
    const s = mech.start(creds, 'example.com');
    const c = new ScramClient(hash, 'juliet', 'r0m30myr0m30', 'n10');
    const sf = await challenge(s, c.first());
    // Recompute the proof over a message that carries an extension.
    const withExt = new ScramClient(hash, 'juliet', 'r0m30myr0m30', 'n10');
    const nonce = sf.split(',')[0]!.slice(2);
    const f = withExt.final(sf, { nonce: `${nonce},x=ext` });
    expect(await s.step(Buffer.from(f))).toMatchObject({ kind: 'success' });
  });

  it('sends an empty challenge when there is no initial response, and ends after success', async () => {
    const s = mech.start(creds, 'example.com');
    expect(await s.step(Buffer.alloc(0))).toEqual({ kind: 'challenge', data: Buffer.alloc(0) });
    const c = new ScramClient(hash, 'juliet', 'r0m30myr0m30', 'n11');
    const sf = await challenge(s, c.first());
    expect(await s.step(Buffer.from(c.final(sf)))).toMatchObject({ kind: 'success' });
    expect(await failure(s.step(Buffer.alloc(0)))).toBe('malformed-request');
  });

  it('ends the exchange after a failure', async () => {
    const s = mech.start(creds, 'example.com');
    expect(await failure(s.step(Buffer.from('garbage')))).toBe('malformed-request');
    expect(await failure(s.step(Buffer.from('n,,n=juliet,r=abc')))).toBe('malformed-request');
  });

  it('turns a storage failure into temporary-auth-failure', async () => {
    const broken = new FakeCreds();
    broken.failing = true;
    const e = await mech.start(broken, 'example.com').step(Buffer.from('n,,n=juliet,r=abc')).catch((x: unknown) => x);
    expect(e).toMatchObject({ condition: 'temporary-auth-failure' });
    expect((e as Error).cause).toBeInstanceOf(Error);
  });
});

describe('stored credentials with other iteration counts', () => {
  it('announce their own salt and count', async () => {
    const cred: ScramCredential = await deriveScram('pw', 'sha256', 10000);
    const creds = new FakeCreds();
    creds.users.set('u', { sha1: cred, sha256: cred });
    const c = new ScramClient('sha256', 'u', 'pw', 'nn');
    const s = SCRAM_SHA_256.start(creds, 'd');
    const sf = await challenge(s, c.first());
    expect(sf).toContain(`,s=${cred.salt},i=10000`);
    expect(await s.step(Buffer.from(c.final(sf)))).toMatchObject({ kind: 'success', username: 'u' });
  });
});
