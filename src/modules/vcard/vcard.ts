// vCards. References: XEP-0054 (vcard-temp).
// Anyone may read an account's vCard; only the owner may set it. No vCard answers
// item-not-found, as Prosody does and Pidgin expects, whether or not the account exists: a
// stranger cannot tell a missing account from one without a vCard.
import { defineModule } from '../../core/modules.js';
import { NS } from '../../xml/ns.js';
import { StanzaError } from '../../core/errors.js';
import { fromJSON, toJSON, type ElementJSON } from '../../xml/json.js';

/** Largest vCard accepted, in serialised bytes (avatars included). */
export const MAX_VCARD_BYTES = 256 * 1024;

export default defineModule({
  name: 'vcard',
  setup(ctx) {
    ctx.feature(NS.VCARD);
    const store = ctx.store<ElementJSON>('vcard', 'keyval');
    const host = ctx.host;

    ctx.iq('get', ['self', 'bare'], NS.VCARD, 'vCard', async (ev) => {
      const user = (ev.to ?? ev.from!.bare()).local;
      const stored = await store.get(user);
      if (!stored) throw new StanzaError('item-not-found');
      return fromJSON(stored);
    });

    ctx.iq('set', 'self', NS.VCARD, 'vCard', async (ev) => {
      const vcard = ev.stanza.getChild('vCard', NS.VCARD)!;
      if (vcard.toString().length > MAX_VCARD_BYTES) throw new StanzaError('not-acceptable', 'the vCard is too large');
      const user = ev.from!.local;
      const stored = vcard.elements().length ? vcard : undefined;
      await store.set(user, stored && toJSON(stored));
      void ctx.fire('vcard-updated', { host: host.name, username: user, vcard: stored });
      return undefined;
    });
    ctx.iq('set', 'bare', NS.VCARD, 'vCard', () => {
      throw new StanzaError('forbidden', 'only the owner may change a vCard');
    });

    ctx.hook('user-deleted', ({ username }) => {
      store.set(username, undefined).catch((err: unknown) => ctx.log.warn({ err, user: username }, 'the vCard of a deleted account was not removed'));
    });
  },
});
