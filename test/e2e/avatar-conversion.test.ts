// Avatars converted between vCard (XEP-0153, what Pidgin does) and PEP (XEP-0084, what
// Conversations and slixmpp do) by the server, XEP-0398, end to end against a real Clove on
// 127.0.0.1: a raw client in Pidgin's role and slixmpp's own XEP-0084 plugin.
// Needs the pep module: skipped until PEP (XEP-0163) is merged into this branch.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MODULES } from '../../src/modules/index.js';
import { serverSuite } from '../helpers/server-suite.js';
import { friends } from '../helpers/contacts.js';
import { Slixmpp } from '../helpers/slixmpp.js';
import { match, type El, type Wire } from '../helpers/wire.js';

const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
const NS_DATA = 'urn:xmpp:avatar:data';
const NS_META = 'urn:xmpp:avatar:metadata';
const NS_UPDATE = 'vcard-temp:x:update';
const PASS = 'avatar conversion pass';
const MODULES_CFG = 'modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "vcard"; "vcard_update"; "pep"; "vcard_legacy" }';

const image = (seed: string): Buffer => Buffer.from(`\x89PNG avatar ${seed} `.repeat(40), 'latin1');
const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex');
const photoHash = (p: El): string | undefined => p.getChild('x', NS_UPDATE)?.getChild('photo')?.text();

/** Ask again until `probe` gives a value (the conversion runs after the iq that caused it is answered). */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `owner`'s items of `node`, fetched by `c` (XEP-0060 §6.5), optionally one item by id. */
async function items(c: Wire, owner: string, node: string, id?: string): Promise<El[]> {
  const r = await c.iq(`<iq type='get' to='${owner}'><pubsub xmlns='${NS_PUBSUB}'><items node='${node}'>${id ? `<item id='${id}'/>` : ''}</items></pubsub></iq>`);
  if (r.attrs.type !== 'result') return [];
  return r.getChild('pubsub', NS_PUBSUB)?.getChild('items')?.getChildren('item') ?? [];
}

async function vcardOf(c: Wire, owner: string): Promise<El | undefined> {
  const r = await c.iq(`<iq type='get' to='${owner}'><vCard xmlns='vcard-temp'/></iq>`);
  return r.getChild('vCard', 'vcard-temp');
}

describe.skipIf(!MODULES.has('pep'))('avatar conversion vCard ⇄ PEP (needs pep)', () => {
  const suite = serverSuite(PASS, { extra: MODULES_CFG });

  it('a vCard photo (Pidgin) becomes a XEP-0084 avatar anyone may fetch (access model open)', async () => {
    const alice = await suite.user('pidgin');
    const stranger = await suite.user('stranger');
    const img = image('vcard');
    const set = await alice.iq(`<iq type='set'><vCard xmlns='vcard-temp'><FN>Alice</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>${img.toString('base64').replace(/(.{76})/g, '$1\n')}</BINVAL></PHOTO></vCard></iq>`);
    expect(set.attrs.type).toBe('result');
    const info = await eventually(async () => (await items(stranger, alice.bare, NS_META))[0]?.getChild('metadata', NS_META)?.getChild('info'), 'avatar metadata');
    expect(info.attrs).toMatchObject({ id: sha1(img), bytes: String(img.length), type: 'image/png' });
    const [data] = await items(stranger, alice.bare, NS_DATA, sha1(img));
    expect(data?.attrs.id).toBe(sha1(img));
    expect(Buffer.from(data!.getChildText('data', NS_DATA)!, 'base64').equals(img)).toBe(true);
  });

  it('an avatar slixmpp publishes over PEP reaches a Pidgin-style contact: new hash in presence, photo in the vCard', async () => {
    const alice = await suite.user('conv');
    const bob = await suite.user('pidginbob');
    await friends(alice, bob, { awaitSubscribed: false });
    const img = image('pep');
    const py = await Slixmpp.start(suite.srv);
    try {
      await py.connect('s', alice.bare, PASS, { resource: 'slix' });
      const pub = await py.call<{ type: string; id: string }>('avatar_publish', { name: 's', base64: img.toString('base64'), type: 'image/png' });
      expect(pub).toEqual({ type: 'result', id: sha1(img) });
      // vcard_update says alice's presence again with the new hash (XEP-0153 §3.2).
      await bob.waitFor(match('presence', { from: alice.jid }, (p) => photoHash(p) === sha1(img)), 8000);
      const photo = (await vcardOf(bob, alice.bare))?.getChild('PHOTO');
      expect(photo?.getChildText('TYPE')).toBe('image/png');
      expect(Buffer.from(photo!.getChildText('BINVAL')!, 'base64').equals(img)).toBe(true);

      // Empty metadata (XEP-0084: publisher disables the avatar) removes the vCard photo; the hash goes empty.
      expect((await py.call<{ type: string }>('avatar_stop', { name: 's' })).type).toBe('result');
      await bob.waitFor(match('presence', { from: alice.jid }, (p) => photoHash(p) === ''), 8000);
      expect((await vcardOf(bob, alice.bare))?.getChild('PHOTO')).toBeUndefined();
    } finally {
      await py.stop();
    }
  });

  it('data whose SHA-1 is not the metadata id is not converted; the vCard keeps its photo', async () => {
    const alice = await suite.user('liar');
    const img = image('kept');
    await alice.iq(`<iq type='set'><vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>${img.toString('base64')}</BINVAL></PHOTO></vCard></iq>`);
    await eventually(async () => (await items(alice, alice.bare, NS_META))[0], 'the converted metadata');
    const other = image('other');
    const wrongId = sha1(image('not this one'));
    expect((await alice.iq(`<iq type='set'><pubsub xmlns='${NS_PUBSUB}'><publish node='${NS_DATA}'><item id='${wrongId}'><data xmlns='${NS_DATA}'>${other.toString('base64')}</data></item></publish></pubsub></iq>`)).attrs.type).toBe('result');
    expect((await alice.iq(`<iq type='set'><pubsub xmlns='${NS_PUBSUB}'><publish node='${NS_META}'><item id='${wrongId}'><metadata xmlns='${NS_META}'><info id='${wrongId}' bytes='${other.length}' type='image/png'/></metadata></item></publish></pubsub></iq>`)).attrs.type).toBe('result');
    await new Promise((r) => setTimeout(r, 500));
    const binval = (await vcardOf(alice, alice.bare))?.getChild('PHOTO')?.getChildText('BINVAL');
    expect(binval && Buffer.from(binval, 'base64').equals(img)).toBe(true);
  });

  it('the account advertises urn:xmpp:pep-vcard-conversion:0 (XEP-0398)', async () => {
    const c = await suite.user('disco');
    const info = await c.iq(`<iq type='get' to='${c.bare}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    expect(info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var)).toContain('urn:xmpp:pep-vcard-conversion:0');
  });
});
