// vCard-based avatars (XEP-0153) end to end: once a user stores a vCard with a PHOTO, every
// available presence the user sends carries the photo's SHA-1, contacts hear the new hash as
// soon as the photo changes (the client need not resend presence), and a vCard without a photo
// gives an empty <photo/>. Observed with the raw client and with xmpp.js.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { serverSuite } from '../helpers/server-suite.js';
import { type El, match } from '../helpers/wire.js';
import { friends, settle } from '../helpers/contacts.js';
import { connectXmppjs, xml, type XmppjsClient, type XmlElement } from '../helpers/xmppjs.js';

const NS_UPDATE = 'vcard-temp:x:update';
const PASS = 'avatar-pass';
const suite = serverSuite(PASS);
const { login, user } = suite;

const image = (seed: string): Buffer => Buffer.from(`\x89PNG fake image ${seed} `.repeat(20), 'latin1');
const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex');
/** A vCard with a photo, its base64 folded over lines as clients send it. */
const vcardWith = (img: Buffer | undefined): string =>
  `<iq type='set'><vCard xmlns='vcard-temp'><FN>Alice</FN>${img ? `<PHOTO><TYPE>image/png</TYPE><BINVAL>${img.toString('base64').replace(/(.{76})/g, '$1\n')}</BINVAL></PHOTO>` : ''}</vCard></iq>`;
const photoOf = (p: El): string | undefined => p.getChild('x', NS_UPDATE)?.getChild('photo')?.text();

describe('vCard avatar hash in presence', () => {
  it('appears after a vCard with a photo is stored, and changes with the photo', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await friends(alice, bob, { awaitSubscribed: false });

    const one = image('one');
    expect((await alice.iq(vcardWith(one))).attrs.type).toBe('result');
    // The server says it again for the client, with the hash.
    const p1 = await bob.waitFor(match('presence', { from: alice.jid }, (p) => photoOf(p) === sha1(one)), 2000);
    expect(p1.getChildren('x', NS_UPDATE)).toHaveLength(1);

    // Presence the client sends carries it too.
    alice.send(`<presence><status>here</status></presence>`);
    const p2 = await bob.waitFor(match('presence', { from: alice.jid }, (p) => p.getChildText('status') === 'here'));
    expect(photoOf(p2)).toBe(sha1(one));

    const two = image('two');
    expect((await alice.iq(vcardWith(two))).attrs.type).toBe('result');
    const p3 = await bob.waitFor(match('presence', { from: alice.jid }, (p) => photoOf(p) === sha1(two)), 2000);
    // Her status is kept: it is her last presence, with a new hash.
    expect(p3.getChildText('status')).toBe('here');
    expect(sha1(two)).not.toBe(sha1(one));

    // No photo any more: an empty <photo/> says so (XEP-0153 §3.2).
    expect((await alice.iq(vcardWith(undefined))).attrs.type).toBe('result');
    const p4 = await bob.waitFor(match('presence', { from: alice.jid }, (p) => photoOf(p) === ''), 2000);
    expect(p4.getChild('x', NS_UPDATE)!.getChild('photo')).toBeDefined();
  });

  it('replaces a hash the client got wrong, and marks presence of users without a photo', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    await friends(alice, bob, { awaitSubscribed: false });
    alice.send(`<presence><x xmlns='${NS_UPDATE}'><photo>0000000000000000000000000000000000000000</photo></x></presence>`);
    const p = await bob.waitFor(match('presence', { from: alice.jid }));
    expect(p.getChildren('x', NS_UPDATE)).toHaveLength(1);
    expect(photoOf(p)).toBe('');

    const img = image('mine');
    await alice.iq(vcardWith(img));
    await bob.waitFor(match('presence', { from: alice.jid }, (q) => photoOf(q) === sha1(img)), 2000);
    alice.send(`<presence><x xmlns='${NS_UPDATE}'><photo>0000000000000000000000000000000000000000</photo></x></presence>`);
    const q = await bob.waitFor(match('presence', { from: alice.jid }, (e) => photoOf(e) !== undefined), 2000);
    expect(photoOf(q)).toBe(sha1(img));
  });

  it('comes from storage for a fresh login, and goes with directed presence', async () => {
    const alice = await user('alice');
    const bob = await user('bob');
    const carol = await user('carol');
    await friends(alice, bob, { awaitSubscribed: false });
    const img = image('stored');
    await alice.iq(vcardWith(img));
    await bob.waitFor(match('presence', { from: alice.jid }, (p) => photoOf(p) === sha1(img)), 2000);
    await alice.close();
    await bob.waitFor(match('presence', { from: alice.jid, type: 'unavailable' }));

    // A new session: nothing cached, the hash is read from the stored vCard.
    const again = await login(alice.bare.split('@')[0]!, 'second');
    again.send('<presence/>');
    const p = await bob.waitFor(match('presence', { from: again.jid }), 2000);
    expect(photoOf(p)).toBe(sha1(img));
    // Directed presence to someone outside the roster carries it too.
    carol.send('<presence/>');
    await settle(carol);
    again.send(`<presence to='${carol.jid}'><status>direct</status></presence>`);
    const d = await carol.waitFor(match('presence', { from: again.jid }));
    expect(photoOf(d)).toBe(sha1(img));
    // Unavailable presence carries no hash.
    again.send(`<presence type='unavailable'/>`);
    const u = await bob.waitFor(match('presence', { from: again.jid, type: 'unavailable' }));
    expect(u.getChild('x', NS_UPDATE)).toBeUndefined();
  });

  it("reaches an xmpp.js contact, and the user's other resources", async () => {
    const alice = await user('alice');
    const other = await login(alice.bare.split('@')[0]!, 'other');
    other.send('<presence/>');
    await settle(other);
    await suite.srv.addUser('xbob', PASS);
    let bob: XmppjsClient | undefined;
    try {
      bob = await connectXmppjs(suite.srv, { username: 'xbob', password: PASS, resource: 'x' });
      await bob.send(xml('presence'));
      const bobRaw = await login('xbob', 'raw');
      await friends(alice, bobRaw, { awaitSubscribed: false });
      const img = image('xmppjs');
      await alice.iq(vcardWith(img));
      const photo = (p: XmlElement): string | null | undefined => p.getChild('x', NS_UPDATE)?.getChildText('photo');
      const p = await bob.waitFor((s) => s.name === 'presence' && s.attrs.from === alice.jid && photo(s) === sha1(img), 'presence with the hash', 2000);
      expect(p.attrs.type).toBeUndefined();
      const mine = await other.waitFor(match('presence', { from: alice.jid }, (e) => photoOf(e) === sha1(img)), 2000);
      expect(mine.attrs.to).toBe(other.jid);
    } finally {
      await bob?.stop();
    }
  });
});
