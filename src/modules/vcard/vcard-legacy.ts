// The server converts between vCard avatars and PEP avatars, as Prosody's `vcard_legacy`.
// References: XEP-0398, XEP-0084, XEP-0153, XEP-0054.
//
// A vCard stored with a PHOTO (BINVAL) is published as the user's XEP-0084 avatar (data, then
// metadata, id = SHA-1 of the bytes, access model open as Prosody uses); a vCard without one
// publishes the empty metadata that says "no avatar". An avatar published over PEP is written
// into the stored vCard's PHOTO, so XEP-0153 clients (Pidgin) fetch it and vcard_update puts its
// hash in presence; empty metadata removes the PHOTO. Each side converts only when the other does
// not already hold the same SHA-1, so a change made here never bounces back. Data that does not
// decode, or whose SHA-1 is not the id the metadata names, is not converted (one warning line).
// A photo stored before the module was loaded goes to PEP at the next login when PEP has none.
// Unlike Prosody's module the vCard stays in the vcard store (the vcard module serves it).
import { defineModule } from '../../core/modules.js';
import { StanzaError } from '../../core/errors.js';
import { fromJSON, toJSON, type ElementJSON } from '../../xml/json.js';
import type { Element } from '../../xml/element.js';
import type { PepService } from '../pep/service.js';
import { perUser, publishPreferring } from '../pep-use.js';
import { MAX_VCARD_BYTES } from './vcard.js';
import { photoHash } from './vcard-update.js';
import {
  NS_AVATAR_DATA, NS_AVATAR_METADATA, avatarFromData, dataItem, emptyMetadataItem, metadataItem, pointedInfo, vcardPhoto, withPhoto,
} from './avatar-convert.js';

/** XEP-0398 §4: the account feature that says the server converts. */
const NS_CONVERSION = 'urn:xmpp:pep-vcard-conversion:0';
const AVATAR_OPTIONS = { 'pubsub#access_model': 'open' } as const;

export default defineModule({
  name: 'vcard_legacy',
  depends: ['pep', 'vcard'],
  setup(ctx) {
    ctx.provide('account-feature', NS_CONVERSION);
    const host = ctx.host;
    const store = ctx.store<ElementJSON>('vcard', 'keyval');
    const serial = perUser();
    const pep = (): PepService | undefined => ctx.items('pep-service')[0];

    /** vCard → PEP, after the vcard module stored `vcard`. */
    const toPep = async (service: PepService, user: string, vcard: Element | undefined): Promise<void> => {
      const photo = vcardPhoto(vcard);
      if (photo.kind === 'invalid') {
        ctx.log.warn({ user }, `vCard avatar not converted to PEP: ${photo.why}`);
        return;
      }
      const current = pointedInfo((await service.items(user, NS_AVATAR_METADATA))[0]);
      if (photo.kind === 'none') {
        if (current) await publishPreferring(service, user, NS_AVATAR_METADATA, emptyMetadataItem(), AVATAR_OPTIONS, ctx.log);
        return;
      }
      if (current?.id === photo.avatar.id) return;
      await publishPreferring(service, user, NS_AVATAR_DATA, dataItem(photo.avatar), AVATAR_OPTIONS, ctx.log);
      await publishPreferring(service, user, NS_AVATAR_METADATA, metadataItem(photo.avatar), AVATAR_OPTIONS, ctx.log);
    };

    /** PEP → vCard, after the metadata node changed. */
    const toVcard = async (service: PepService, user: string): Promise<void> => {
      const meta = (await service.items(user, NS_AVATAR_METADATA))[0];
      const info = pointedInfo(meta);
      if (!info && meta?.getChild('metadata', NS_AVATAR_METADATA)?.getChild('info')) {
        ctx.log.info({ user }, 'PEP avatar not converted to the vCard: it is only at a URL (XEP-0084 url), with no data to copy');
        return;
      }
      const stored = await store.get(user);
      const vcard = stored && fromJSON(stored);
      const hash = photoHash(vcard);
      if ((info?.id ?? '') === hash) return;
      if (!info) {
        if (!vcard?.getChild('PHOTO')) return;
        return save(user, withPhoto(vcard, undefined));
      }
      const data = (await service.items(user, NS_AVATAR_DATA)).find((i) => i.attrs.id?.toLowerCase() === info.id);
      const avatar = avatarFromData(info, data);
      if (typeof avatar === 'string') {
        ctx.log.warn({ user }, `PEP avatar not converted to the vCard: ${avatar}`);
        return;
      }
      const next = withPhoto(vcard, avatar);
      if (next.toString().length > MAX_VCARD_BYTES) {
        ctx.log.warn({ user, bytes: avatar.bytes }, `PEP avatar not converted to the vCard: the vCard would pass ${MAX_VCARD_BYTES} bytes`);
        return;
      }
      return save(user, next);
    };

    const save = async (user: string, vcard: Element): Promise<void> => {
      const stored = vcard.elements().length ? vcard : undefined;
      await store.set(user, stored && toJSON(stored));
      await ctx.fire('vcard-updated', { host: host.name, username: user, vcard: stored });
    };

    // `bytes`: what the task holds while it waits (the vCard); past the runner's bounds it is
    // dropped with one warning (the vCard itself is stored; PEP keeps its avatar).
    const run = (user: string, what: string, task: (service: PepService) => Promise<void>, bytes?: number): void => {
      const service = pep();
      if (!service) return;
      serial(user, () => task(service), bytes).catch((err: unknown) => {
        if (err instanceof StanzaError && err.condition === 'resource-constraint') ctx.log.warn({ user }, `avatar conversion (${what}) dropped: ${err.text ?? ''}`);
        else ctx.log.error({ err, user }, `avatar conversion (${what}) failed`);
      });
    };

    ctx.hook('vcard-updated', ({ host: name, username, vcard }) => {
      if (name === host.name) run(username, 'vCard to PEP', (s) => toPep(s, username, vcard), vcard ? vcard.toString().length : 0);
    });
    // A photo stored before this module (or PEP) was loaded is published when the user comes
    // online, unless PEP already has an avatar (Prosody's vcard_legacy does the same at bind).
    ctx.hook('session-bound', ({ session }) => {
      if (session.host !== host.name) return;
      const user = session.username;
      run(user, 'vCard to PEP at login', async (s) => {
        if ((await s.items(user, NS_AVATAR_METADATA)).length > 0) return;
        const stored = await store.get(user);
        if (stored) await toPep(s, user, fromJSON(stored));
      });
    });
    ctx.hook('pep-item-published', ({ user, node }) => {
      if (node === NS_AVATAR_METADATA) run(user, 'PEP to vCard', (s) => toVcard(s, user));
    });
    ctx.hook('pep-item-retracted', ({ user, node }) => {
      if (node === NS_AVATAR_METADATA) run(user, 'PEP to vCard', (s) => toVcard(s, user));
    });
  },
});

