// vCard-based avatars: the photo hash in presence. References: XEP-0153, XEP-0054.
// Clients that show avatars (Pidgin among them) fetch a contact's vCard when the hash in the
// contact's presence changes. Many clients never put the hash there, so the server does: every
// available presence a user broadcasts or directs carries
// <x xmlns='vcard-temp:x:update'><photo>SHA-1 of the stored photo</photo></x>, or an empty
// <photo/> when the vCard has none (XEP-0153 §3.2: "no avatar"). The stored vCard is the truth,
// so an <x/> the client sent is replaced. When the photo changes, each available resource's
// last presence goes out again with the new hash, so contacts see it at once even when the
// client does not resend presence itself.
// The hash of each user with a bound session is kept in memory; the 'vcard-updated' event
// (fired by the vcard module) keeps it current.
import { createHash } from 'node:crypto';
import { Element, x } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { fromJSON, type ElementJSON } from '../../xml/json.js';
import { defineModule } from '../../core/modules.js';
import { Priority } from '../../core/events.js';
import type { StanzaEvent } from '../../core/events-map.js';

/** SHA-1 (hex) of a vCard's PHOTO/BINVAL, '' when it has no embedded photo (EXTVAL has no hash). */
export function photoHash(vcard: Element | undefined): string {
  const binval = vcard?.getChild('PHOTO')?.getChildText('BINVAL')?.replace(/\s+/g, '');
  if (!binval) return '';
  return createHash('sha1').update(Buffer.from(binval, 'base64')).digest('hex');
}

/** The presence with its vcard-temp:x:update element replaced by one carrying `hash`. */
function stamp(presence: Element, hash: string): void {
  presence.children = presence.children.filter((c) => typeof c === 'string' || !(c.local === 'x' && c.xmlns === NS.VCARD_UPDATE));
  presence.append(x('x', { xmlns: NS.VCARD_UPDATE }, x('photo', null, hash)));
}

export default defineModule({
  name: 'vcard_update',
  setup(ctx) {
    const host = ctx.host;
    const store = ctx.store<ElementJSON>('vcard', 'keyval');
    /** username → photo hash ('' = none), for users with a bound session. */
    const hashes = new Map<string, string>();

    const hashOf = async (user: string): Promise<string> => {
      const known = hashes.get(user);
      if (known !== undefined) return known;
      const stored = await store.get(user);
      const hash = photoHash(stored && fromJSON(stored));
      // A vCard set while the store was read has put the newer hash in already.
      const raced = hashes.get(user);
      if (raced !== undefined) return raced;
      if (host.sessions.ofUser(host.name, user).length > 0) hashes.set(user, hash);
      return hash;
    };

    /** Available presence from a local client gets the hash; the stanza is routed on as usual. */
    const onPresence = (ev: StanzaEvent): undefined | Promise<undefined> => {
      const s = ev.origin;
      if (!s || s.kind !== 'c2s' || !s.jid || ev.stanza.attrs.type !== undefined) return undefined;
      const known = hashes.get(s.jid.local);
      if (known !== undefined) {
        stamp(ev.stanza, known);
        return undefined;
      }
      return hashOf(s.jid.local).then((hash) => {
        stamp(ev.stanza, hash);
        return undefined;
      });
    };
    ctx.hook('presence/self', onPresence, Priority.early);
    ctx.hook('presence/outbound', onPresence, Priority.early);

    ctx.hook('vcard-updated', ({ host: name, username, vcard }) => {
      if (name !== host.name) return;
      const hash = photoHash(vcard);
      const sessions = host.sessions.ofUser(host.name, username);
      const before = hashes.get(username);
      if (sessions.length === 0) {
        hashes.delete(username);
        return;
      }
      hashes.set(username, hash);
      if (before === hash) return;
      // Each available resource says it again, with the new hash (as if its client had).
      for (const s of sessions) {
        if (!s.presence || s.state !== 'bound') continue;
        const attrs = { ...s.presence.attrs };
        delete attrs.from;
        delete attrs.to;
        const again = new Element('presence', attrs, [...s.presence.children]);
        ctx.sendAs(s, again).catch((err: unknown) => ctx.log.error({ err }, 'presence with a new avatar hash failed'));
      }
    });

    ctx.hook('session-closed', ({ session }) => {
      if (host.sessions.ofUser(host.name, session.username).length === 0) hashes.delete(session.username);
    });
    ctx.hook('user-deleted', ({ host: name, username }) => {
      if (name === host.name) hashes.delete(username);
    });
  },
});
