// Unique and stable stanza IDs (XEP-0359): the archive's id of a message, stamped on the copy its
// recipient gets as <stanza-id by='user@host' id='…'/>. Nobody else may claim to speak for our
// user's archive, so a stanza-id claiming `by` an account is removed before that account's
// archive stamps its own (XEP-0359 §4, security considerations).
//
// A message a local client sends is archived by its sender too; its other resources see that
// id on their carbon copy (XEP-0280), while the recipient must not learn it. The sender's view of
// the stanza is kept beside the stanza object (sentView), not on the routed stanza.
import { Element, x } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { tryParseJid } from '../../jid/jid.js';

/** True for a <stanza-id/> child whose `by` is `bare` (a prepared bare JID). */
function claims(c: Element, bare: string): boolean {
  if (c.local !== 'stanza-id' || c.xmlns !== NS.SID || c.attrs.by === undefined) return false;
  const by = tryParseJid(c.attrs.by);
  return by !== null && by.isBare() && by.toString() === bare;
}

/** The stanza without stanza-ids claiming `by` = `bare` (the same object when it has none). */
export function stripClaims(stanza: Element, bare: string): Element {
  if (!stanza.children.some((c) => typeof c !== 'string' && claims(c, bare))) return stanza;
  return new Element(stanza.name, { ...stanza.attrs }, stanza.children.filter((c) => typeof c === 'string' || !claims(c, bare)));
}

/** True when the stanza carries a stanza-id by `bare` (it was archived there already). */
export function hasClaim(stanza: Element, bare: string): boolean {
  return stanza.children.some((c) => typeof c !== 'string' && claims(c, bare));
}

/** A copy of the stanza (children shared) with <stanza-id by id/> added. */
export function withStanzaId(stanza: Element, by: string, id: string): Element {
  return new Element(stanza.name, { ...stanza.attrs }, [...stanza.children, x('stanza-id', { xmlns: NS.SID, by, id })]);
}

/** What the sender's own resources should see of a message it sent, by the routed stanza. */
const sentViews = new WeakMap<Element, Element>();

/** Remember the sender's view of `routed` (its stanza-id from the sender's archive). */
export function setSentView(routed: Element, view: Element): void {
  sentViews.set(routed, view);
}

/** The stanza as the sender's other resources should see it (carbons): its sender's stanza-id, not the recipient's. */
export function sentView(routed: Element): Element {
  return sentViews.get(routed) ?? routed;
}

/** Keep the sender's view of `routed` on its replacement `next` (the recipient's host stamped its own id). */
export function carrySentView(routed: Element, next: Element): void {
  const view = sentViews.get(routed);
  if (view && next !== routed && !sentViews.has(next)) sentViews.set(next, view);
}
