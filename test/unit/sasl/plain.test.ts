import { beforeAll, describe, expect, it } from 'vitest';
import { PLAIN } from '../../../src/sasl/plain.js';
import { FakeCreds } from './fake-creds.js';
import { failure } from './failure.js';

const msg = (authzid: string, authcid: string, password: string): Buffer => Buffer.from(`${authzid}\0${authcid}\0${password}`);

describe('PLAIN', () => {
  let creds: FakeCreds;
  beforeAll(async () => {
    creds = await new FakeCreds().add('juliet', 'r0m30myr0m30', 1000);
    await creds.add('roman', '\u2168', 1000);
  });

  it('is named PLAIN', () => expect(PLAIN.name).toBe('PLAIN'));

  it('accepts the right password', async () => {
    expect(await PLAIN.start(creds, 'example.com').step(msg('', 'juliet', 'r0m30myr0m30'))).toEqual({ kind: 'success', username: 'juliet' });
  });

  it('prepares the username and the password', async () => {
    expect(await PLAIN.start(creds, 'example.com').step(msg('', 'JULIET', 'r0m30myr0m30'))).toMatchObject({ username: 'juliet' });
    expect(await PLAIN.start(creds, 'example.com').step(msg('', 'roman', 'IX'))).toMatchObject({ kind: 'success' });
  });

  it('accepts an authzid equal to the bare JID', async () => {
    expect(await PLAIN.start(creds, 'example.com').step(msg('Juliet@Example.com', 'juliet', 'r0m30myr0m30'))).toMatchObject({ kind: 'success' });
  });

  it.each([['romeo@example.com'], ['juliet@example.net'], ['juliet@example.com/balcony'], ['juliet'], ['not a jid@@']])(
    'rejects authzid %s with invalid-authzid',
    async (authzid) => {
      expect(await failure(PLAIN.start(creds, 'example.com').step(msg(authzid, 'juliet', 'r0m30myr0m30')))).toBe('invalid-authzid');
    },
  );

  it('rejects a wrong password, an unknown user and an impossible username alike', async () => {
    for (const m of [msg('', 'juliet', 'wrong'), msg('', 'nobody', 'r0m30myr0m30'), msg('', 'a b', 'x'), msg('', 'juliet', ''), msg('', '', 'x'), msg('', 'juliet', 'a\u0007')]) {
      expect(await failure(PLAIN.start(creds, 'example.com').step(m))).toBe('not-authorized');
    }
  });

  it('rejects malformed messages', async () => {
    for (const m of [Buffer.from('juliet'), Buffer.from('juliet\0pw'), Buffer.from('\0juliet\0pw\0'), Buffer.from([0, 0x6a, 0, 0xff, 0xfe])]) {
      expect(await failure(PLAIN.start(creds, 'example.com').step(m))).toBe('malformed-request');
    }
  });

  it('asks for the credentials with an empty challenge when there is no initial response', async () => {
    const s = PLAIN.start(creds, 'example.com');
    expect(await s.step(Buffer.alloc(0))).toEqual({ kind: 'challenge', data: Buffer.alloc(0) });
    expect(await s.step(msg('', 'juliet', 'r0m30myr0m30'))).toMatchObject({ kind: 'success' });
    expect(await failure(s.step(msg('', 'juliet', 'r0m30myr0m30')))).toBe('malformed-request');
  });

  it('turns a storage failure into temporary-auth-failure', async () => {
    const broken = new FakeCreds();
    broken.failing = true;
    expect(await failure(PLAIN.start(broken, 'example.com').step(msg('', 'juliet', 'x')))).toBe('temporary-auth-failure');
  });
});
