// The invitation store without sockets: token shape and what is stored (only the secret's
// hash), a token with a wrong secret or a wrong shape finds nothing, expiry on a moved clock,
// the per-host and per-creator bounds (expired invitations do not count and are deleted), the
// xmpp: URIs, and the guessing throttle.
import { describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../../../../src/storage/memory.js';
import { InviteLimitError, InviteStore, MAX_PER_CREATOR, inviteUri, type StoredInvite } from '../../../../src/modules/invites/invite-store.js';
import { GuessGuard, MAX_WRONG_PER_CONNECTION, WRONG_PER_WINDOW } from '../../../../src/modules/invites/guard.js';
import { StanzaError } from '../../../../src/core/errors.js';

const DAY = 86_400_000;

function world(maxPending = 1000) {
  let now = 1_800_000_000_000;
  const kv = createMemoryBackend().keyval<StoredInvite>('example.b32.i2p', 'invite_token');
  const store = new InviteStore(kv, () => now, maxPending);
  const make = (creator = 'admin@example.b32.i2p', days = 7) => store.create({ type: 'register', jid: 'example.b32.i2p', allowRegistration: true, creator, expires: now + days * DAY });
  return { kv, store, make, advance: (ms: number) => { now += ms; } };
}

describe('InviteStore', () => {
  it('hands out a 36-character token and stores only the hash of its secret', async () => {
    const { kv, make } = world();
    const invite = await make();
    expect(invite.token).toMatch(/^[A-Za-z0-9_-]{36}$/);
    expect(invite.token.startsWith(invite.id)).toBe(true);
    const stored = await kv.get(invite.id);
    expect(stored?.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(invite.token.slice(12));
  });

  it('finds an invitation by its token only, until it expires', async () => {
    const { store, make, advance } = world();
    const invite = await make('admin@example.b32.i2p', 1);
    expect((await store.find(invite.token))?.id).toBe(invite.id);
    const flipped = invite.token.slice(0, 35) + (invite.token.endsWith('A') ? 'B' : 'A');
    expect(await store.find(flipped)).toBeUndefined();
    expect(await store.find(invite.token.slice(0, 35))).toBeUndefined();
    expect(await store.find(`${invite.token}x`)).toBeUndefined();
    expect(await store.find('../../etc/passwd'.padEnd(36, 'x'))).toBeUndefined();
    advance(DAY);
    expect(await store.find(invite.token)).toBeUndefined();
    expect(await store.exists(invite.id)).toBe(true); // expired, not yet swept
    expect(await store.pending()).toEqual([]);
    expect(await store.exists(invite.id)).toBe(false); // the sweep deleted it
  });

  it('bounds invitations per host and per creator; expired ones do not count', async () => {
    const host = world(3);
    for (let i = 0; i < 3; i++) await host.make(`u${i}@example.b32.i2p`, 1);
    await expect(host.make('other@example.b32.i2p')).rejects.toThrow(InviteLimitError);
    host.advance(DAY);
    await expect(host.make('other@example.b32.i2p')).resolves.toBeDefined();

    const one = world();
    for (let i = 0; i < MAX_PER_CREATOR; i++) await one.make('busy@example.b32.i2p');
    await expect(one.make('busy@example.b32.i2p')).rejects.toThrow(/50 pending invitations/);
    await expect(one.make('calm@example.b32.i2p')).resolves.toBeDefined();
  });

  it('writes the XEP-0401 URIs, the localpart percent-encoded', () => {
    const token = 'T'.repeat(36);
    expect(inviteUri({ type: 'register', jid: 'example.b32.i2p', token, allowRegistration: true })).toBe(`xmpp:example.b32.i2p?register;preauth=${token}`);
    expect(inviteUri({ type: 'roster', jid: 'a;b@example.b32.i2p', token, allowRegistration: true })).toBe(`xmpp:a%3Bb@example.b32.i2p?roster;preauth=${token};ibr=y`);
    expect(inviteUri({ type: 'roster', jid: 'bob@example.b32.i2p', token, allowRegistration: false })).toBe(`xmpp:bob@example.b32.i2p?roster;preauth=${token}`);
  });
});

describe('GuessGuard', () => {
  const condition = (f: () => void): string | undefined => {
    try {
      f();
      return undefined;
    } catch (err) {
      return err instanceof StanzaError ? err.condition : 'other';
    }
  };

  it('stops a connection after its wrong tokens, and every token once the host has seen too many', () => {
    let now = 0;
    const guard = new GuessGuard(() => now);
    const conn = { wrong: 0 };
    for (let i = 0; i < MAX_WRONG_PER_CONNECTION; i++) {
      expect(condition(() => guard.check(conn))).toBeUndefined();
      guard.wrong(conn);
    }
    expect(condition(() => guard.check(conn))).toBe('not-acceptable');
    for (let i = MAX_WRONG_PER_CONNECTION; i <= WRONG_PER_WINDOW; i++) guard.wrong({ wrong: 0 });
    expect(condition(() => guard.check({ wrong: 0 }))).toBe('resource-constraint');
    now += 61_000;
    expect(condition(() => guard.check({ wrong: 0 }))).toBeUndefined();
  });
});
