// Who may read the operator's pages: i2pd's headers and the address allow list.
import { describe, expect, it } from 'vitest';
import { viaI2p } from '../../../src/ops/access.js';
import { AllowList } from '../../../src/net/allow-list.js';

describe('viaI2p', () => {
  it("sees any of i2pd's X-I2P-Dest* headers (node lower-cases them)", () => {
    expect(viaI2p({ host: 'x', 'x-i2p-desthash': 'abc' })).toBe(true);
    expect(viaI2p({ 'x-i2p-destb64': 'abc' })).toBe(true);
    expect(viaI2p({ 'x-i2p-destb32': 'abc.b32.i2p' })).toBe(true);
    expect(viaI2p({ host: 'x', 'x-forwarded-for': '127.0.0.1' })).toBe(false);
  });
});

describe('AllowList', () => {
  it('allows listed addresses and ranges, IPv4-mapped IPv6 as IPv4', () => {
    const list = new AllowList(['127.0.0.1', '::1'], ['10.1.0.0/16', 'fd00::/8']);
    expect(list.allows('127.0.0.1')).toBe(true);
    expect(list.allows('::ffff:127.0.0.1')).toBe(true);
    expect(list.allows('::1')).toBe(true);
    expect(list.allows('10.1.200.3')).toBe(true);
    expect(list.allows('fd12::5')).toBe(true);
    expect(list.allows('127.0.0.2')).toBe(false);
    expect(list.allows('10.2.0.1')).toBe(false);
    expect(list.allows(undefined)).toBe(false);
    expect(list.allows('not an address')).toBe(false);
  });

  it('allows nobody when empty', () => {
    expect(new AllowList([], []).allows('127.0.0.1')).toBe(false);
  });

  it('names a malformed entry', () => {
    expect(() => new AllowList(['localhost'], [])).toThrow("'localhost' is not an IP address");
    expect(() => new AllowList([], ['10.0.0.0/33'])).toThrow("'10.0.0.0/33' is not an address range");
    expect(() => new AllowList([], ['10.0.0.0'])).toThrow('is not an address range');
  });
});
