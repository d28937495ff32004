// vcard_legacy (XEP-0398) against a PepService test double (test/helpers/memory-pep.ts): a vCard
// PHOTO becomes a XEP-0084 avatar, a PEP avatar becomes the vCard PHOTO, empty metadata removes
// it, and nothing bounces back or converts when the data is bad. Real host, vcard module, router.
import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { x, type Element } from '../../../src/xml/element.js';
import { NS } from '../../../src/xml/ns.js';
import { MODULES } from '../../../src/modules/index.js';
import vcardLegacy from '../../../src/modules/vcard/vcard-legacy.js';
import { MAX_VCARD_BYTES } from '../../../src/modules/vcard/vcard.js';
import { NS_AVATAR_DATA, NS_AVATAR_METADATA } from '../../../src/modules/vcard/avatar-convert.js';
import type { FakeSession, HostWorld } from '../../helpers/host-world.js';
import { worldWithPep, type MemoryPep } from '../../helpers/memory-pep.js';
import { stanza } from '../../helpers/stanza.js';

let w: HostWorld;
let pep: MemoryPep;
let alice: FakeSession;

beforeEach(async () => {
  ({ world: w, pep } = await worldWithPep([MODULES.get('disco')!, vcardLegacy]));
  alice = w.bind('alice@localhost/pc');
});

async function iq(xml: string): Promise<Element> {
  const before = alice.got.length;
  await w.router.fromClient(alice, stanza(xml));
  await settle();
  const reply = alice.got.slice(before).find((s) => s.name === 'iq');
  if (!reply) throw new Error(`no reply to ${xml}`);
  return reply;
}

/** Let the module's background conversions run (they are queued promises, no timers). */
const settle = async () => { for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); };
const png = (seed: string, size = 300) => Buffer.from(`\x89PNG ${seed} `.repeat(size), 'latin1');
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');
const setVcard = (inner: string) => iq(`<iq type='set' id='v'><vCard xmlns='vcard-temp'>${inner}</vCard></iq>`);
const photo = (img: Buffer, type = 'image/png') => `<PHOTO><TYPE>${type}</TYPE><BINVAL>${img.toString('base64').replace(/(.{76})/g, '$1\n')}</BINVAL></PHOTO>`;
const getVcard = async () => (await iq(`<iq type='get' id='g'><vCard xmlns='vcard-temp'/></iq>`)).getChild('vCard', NS.VCARD);
const binvalOf = (v: Element | undefined) => v?.getChild('PHOTO')?.getChildText('BINVAL')?.replace(/\s+/g, '');

/** A client publishing its avatar as XEP-0084 says: data first, then metadata. */
async function publishAvatar(img: Buffer, opts: { id?: string; data?: string; bytes?: number } = {}): Promise<void> {
  const id = opts.id ?? sha1(img);
  // Built, not parsed: the big one is larger than a stanza the parser accepts (PEP's item limit is PEP's to test).
  await pep.publish('alice', NS_AVATAR_DATA, x('item', { id }, x('data', { xmlns: NS_AVATAR_DATA }, opts.data ?? img.toString('base64'))));
  await pep.publish('alice', NS_AVATAR_METADATA, stanza(`<item id='${id}'><metadata xmlns='${NS_AVATAR_METADATA}'><info id='${id}' bytes='${opts.bytes ?? img.length}' type='image/png' width='64' height='64'/></metadata></item>`));
  await settle();
}

describe('vcard_legacy: vCard → PEP', () => {
  it('publishes a stored vCard PHOTO as avatar data and metadata, id the SHA-1, access model open', async () => {
    const img = png('one');
    expect((await setVcard(`<FN>Alice</FN>${photo(img, 'image/jpeg')}`)).attrs.type).toBe('result');
    const [data] = await pep.items('alice', NS_AVATAR_DATA);
    const [meta] = await pep.items('alice', NS_AVATAR_METADATA);
    expect(data?.attrs.id).toBe(sha1(img));
    expect(Buffer.from(data!.getChildText('data', NS_AVATAR_DATA)!, 'base64').equals(img)).toBe(true);
    expect(meta?.attrs.id).toBe(sha1(img));
    expect(meta!.getChild('metadata', NS_AVATAR_METADATA)!.getChild('info')!.attrs).toMatchObject({ id: sha1(img), bytes: String(img.length), type: 'image/jpeg' });
    expect(pep.nodes.get('alice')!.get(NS_AVATAR_METADATA)!.options['pubsub#access_model']).toBe('open');
  });

  it('publishes nothing again for the same photo, and empty metadata when the photo goes', async () => {
    const img = png('same');
    await setVcard(photo(img));
    await setVcard(`<FN>Changed name</FN>${photo(img)}`);
    expect(pep.calls.filter((c) => c.includes(NS_AVATAR_METADATA))).toHaveLength(1);
    await setVcard('<FN>No photo</FN>');
    const [meta] = await pep.items('alice', NS_AVATAR_METADATA);
    expect(meta!.getChild('metadata', NS_AVATAR_METADATA)!.elements()).toEqual([]);
  });

  it('does not convert a PHOTO that is not base64', async () => {
    await setVcard('<PHOTO><TYPE>image/png</TYPE><BINVAL>not*base64!</BINVAL></PHOTO>');
    expect(pep.calls).toEqual([]);
  });
});

describe('vcard_legacy: a photo stored before', () => {
  it('is published when the user binds a resource, unless PEP has an avatar already', async () => {
    const { world, pep: double, registry } = await worldWithPep([MODULES.get('vcard')!]);
    const bob = world.bind('bob@localhost/pc');
    const img = png('before');
    await world.router.fromClient(bob, stanza(`<iq type='set' id='v'><vCard xmlns='vcard-temp'>${photo(img)}</vCard></iq>`));
    await world.host.load([vcardLegacy], registry);
    expect(await double.items('bob', NS_AVATAR_METADATA)).toEqual([]);
    await world.host.events.fire('session-bound', { session: bob });
    await settle();
    expect((await double.items('bob', NS_AVATAR_METADATA))[0]?.attrs.id).toBe(sha1(img));
    const calls = double.calls.length;
    await world.host.events.fire('session-bound', { session: bob });
    await settle();
    expect(double.calls).toHaveLength(calls);
  });
});

describe('vcard_legacy: PEP → vCard', () => {
  it('writes a published avatar into the vCard PHOTO, keeping the rest, without publishing back', async () => {
    await setVcard('<FN>Alice</FN>');
    const img = png('pep');
    await publishAvatar(img);
    const v = await getVcard();
    expect(v?.getChildText('FN')).toBe('Alice');
    expect(v?.getChild('PHOTO')?.getChildText('TYPE')).toBe('image/png');
    expect(Buffer.from(binvalOf(v)!, 'base64').equals(img)).toBe(true);
    // Only the client's two publishes: the vCard change did not bounce back to PEP.
    expect(pep.calls).toHaveLength(2);
  });

  it('removes the PHOTO when empty metadata says "no avatar"', async () => {
    await setVcard(`<FN>Alice</FN>${photo(png('old'))}`);
    await pep.publish('alice', NS_AVATAR_METADATA, stanza(`<item id='current'><metadata xmlns='${NS_AVATAR_METADATA}'/></item>`));
    await settle();
    const v = await getVcard();
    expect(v?.getChild('PHOTO')).toBeUndefined();
    expect(v?.getChildText('FN')).toBe('Alice');
  });

  it('leaves the vCard alone for data whose SHA-1 or size is not what the metadata says, or not base64', async () => {
    await setVcard(`<FN>Alice</FN>${photo(png('kept'))}`);
    const kept = binvalOf(await getVcard());
    await publishAvatar(png('liar'), { id: sha1(png('other')) });
    await publishAvatar(png('size'), { bytes: 1 });
    await publishAvatar(png('b64'), { data: '!!!not base64' });
    expect(binvalOf(await getVcard())).toBe(kept);
  });

  it('leaves the vCard photo alone for an avatar only at a URL (nothing to copy, and it is not "no avatar")', async () => {
    await setVcard(`<FN>Alice</FN>${photo(png('mine'))}`);
    const kept = binvalOf(await getVcard());
    await pep.publish('alice', NS_AVATAR_METADATA, stanza(`<item id='u1'><metadata xmlns='${NS_AVATAR_METADATA}'><info id='u1' bytes='10' type='image/png' url='http://avatars.i2p/a.png'/></metadata></item>`));
    await settle();
    expect(binvalOf(await getVcard())).toBe(kept);
  });

  it('leaves the vCard alone for an avatar that would pass the vCard size limit', async () => {
    await setVcard('<FN>Alice</FN>');
    await publishAvatar(png('huge', Math.ceil(MAX_VCARD_BYTES / 8)));
    expect((await getVcard())?.getChild('PHOTO')).toBeUndefined();
  });
});

describe('vcard_legacy: disco', () => {
  it('advertises urn:xmpp:pep-vcard-conversion:0 on the account', async () => {
    await w.accounts.create('alice', 'pw');
    const info = await iq(`<iq type='get' id='d' to='alice@localhost'><query xmlns='${NS.DISCO_INFO}'/></iq>`);
    expect(info.getChild('query', NS.DISCO_INFO)!.getChildren('feature').map((f) => f.attrs.var)).toContain('urn:xmpp:pep-vcard-conversion:0');
  });
});
