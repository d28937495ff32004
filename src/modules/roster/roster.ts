// Roster management: get (with versioning), add/update, remove. References: RFC 6121 §2
// (roster), §2.5.2 (remove and cancel subscriptions), §2.6 (versioning, XEP-0237).
// The roster data and its store (./roster-store.ts) are opened by the presence module, which
// loads on every host; subscription states are only ever changed by presence stanzas, never by a
// roster set.
import { randomBytes } from 'node:crypto';
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { Jid, tryParseJid } from '../../jid/jid.js';
import { defineModule } from '../../core/modules.js';
import { StanzaError } from '../../core/errors.js';
import { pushItem, rosterQuery, seesContact, seesUser, type RosterItem } from './roster-store.js';

/** Longest item name and group name accepted, in characters (RFC 6121 §2.3.3: a server limit). */
export const MAX_NAME_CHARS = 1024;
/** Most groups one item may be in. */
export const MAX_GROUPS = 64;

/** A validated roster set: an item to add or update, or a removal. */
type RosterSet = { jid: string; remove: true } | { jid: string; remove: false; name: string | undefined; groups: string[] };

/** Check a roster set's payload (RFC 6121 §2.3.3 error cases). */
function parseSet(query: Element): RosterSet {
  const items = query.getChildren('item');
  if (items.length !== 1) throw new StanzaError('bad-request', 'a roster set carries exactly one item');
  const item = items[0] as Element;
  const raw = item.attrs.jid;
  if (raw === undefined) throw new StanzaError('bad-request', 'the item has no jid');
  const jid = tryParseJid(raw);
  if (!jid) throw new StanzaError('jid-malformed', 'the item jid is not a valid JID');
  if (!jid.isBare()) throw new StanzaError('bad-request', 'roster items are bare JIDs');
  // The client never sets subscription states, ask or approved; only 'remove' means something.
  if (item.attrs.subscription === 'remove') return { jid: jid.toString(), remove: true };
  const name = item.attrs.name;
  if (name !== undefined && [...name].length > MAX_NAME_CHARS) throw new StanzaError('not-acceptable', `the name is longer than ${MAX_NAME_CHARS} characters`);
  const groups: string[] = [];
  for (const g of item.getChildren('group')) {
    const text = g.text();
    if (text === '') throw new StanzaError('not-acceptable', 'a group name is empty (leave out <group/> to remove an item from all groups)');
    if ([...text].length > MAX_NAME_CHARS) throw new StanzaError('not-acceptable', `a group name is longer than ${MAX_NAME_CHARS} characters`);
    if (groups.includes(text)) throw new StanzaError('bad-request', `the group '${text}' is listed twice`);
    groups.push(text);
  }
  if (groups.length > MAX_GROUPS) throw new StanzaError('not-acceptable', `an item may be in at most ${MAX_GROUPS} groups`);
  return { jid: jid.toString(), remove: false, name: name === '' ? undefined : name, groups };
}

export default defineModule({
  name: 'roster',
  depends: ['presence'],
  setup(ctx) {
    const host = ctx.host;
    const rosters = ctx.items('roster-store')[0];
    if (!rosters) throw new Error('the presence module did not provide the roster store');
    const route = (stanza: Element): void | Promise<void> => ctx.send(stanza);

    ctx.hook('stream-features', ({ session, features }) => {
      if (session.state === 'authenticated') features.append(x('ver', { xmlns: NS.ROSTER_VER }));
    });

    ctx.iq('get', 'self', NS.ROSTER, 'query', async (ev) => {
      const user = (ev.from as Jid).local;
      if (ev.origin?.kind === 'c2s') ev.origin.rosterInterested = true;
      const roster = await rosters.load(user);
      // §2.6.3: nothing changed since the version the client has → an empty result.
      const ver = ev.stanza.getChild('query', NS.ROSTER)?.attrs.ver;
      if (ver !== undefined && ver === String(roster.version)) return undefined;
      return rosterQuery(roster);
    });

    ctx.iq('set', 'self', NS.ROSTER, 'query', async (ev) => {
      const user = (ev.from as Jid).bare();
      const req = parseSet(ev.stanza.getChild('query', NS.ROSTER) as Element);
      const sessions = () => host.sessions.ofUser(host.name, user.local);
      if (!req.remove) {
        const { item, ver } = await rosters.modify(user.local, req.jid, (r, tx) => {
          const existing = r.items[req.jid];
          const item: RosterItem = existing ?? { subscription: 'none', groups: [] };
          if (req.name === undefined) delete item.name;
          else item.name = req.name;
          item.groups = req.groups;
          r.items[req.jid] = item;
          return { item, ver: tx.bump() };
        });
        pushItem(sessions(), req.jid, item, ver);
        return undefined;
      }
      const removed = await rosters.modify(user.local, req.jid, (r, tx) => {
        const item = r.items[req.jid];
        const pendingIn = Object.hasOwn(r.pending, req.jid);
        if (!item && !pendingIn) throw new StanzaError('item-not-found', 'no such item in the roster');
        delete r.items[req.jid];
        delete r.pending[req.jid];
        return { item, pendingIn, ver: item ? tx.bump() : (tx.touch(), undefined) };
      });
      if (removed.ver !== undefined) pushItem(sessions(), req.jid, undefined, removed.ver);
      // §2.5.2: cancel the subscriptions both ways, as far as there were any.
      const { item, pendingIn } = removed;
      const from = user.toString();
      if (seesUser(item)) {
        await Promise.all(host.sessions.ofUser(host.name, user.local).filter((s) => s.presence && s.jid)
          .map((s) => route(x('presence', { type: 'unavailable', from: (s.jid as Jid).toString(), to: req.jid }))));
      }
      if (item && (seesContact(item) || item.ask)) await route(x('presence', { type: 'unsubscribe', from, to: req.jid, id: stanzaId() }));
      if (seesUser(item) || pendingIn) await route(x('presence', { type: 'unsubscribed', from, to: req.jid, id: stanzaId() }));
      return undefined;
    });
  },
});

function stanzaId(): string {
  return randomBytes(6).toString('base64url');
}
