// Which messages the account archive keeps, and the copy it keeps. References: XEP-0313 §5.1.1
// (user archives: what to store), XEP-0334 (no-store, no-permanent-store and store hints),
// XEP-0085 (chat states are not worth keeping). Behaviour learnt from Prosody's mod_mam
// (should_store, dont_archive_namespaces).
import { Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';

/** Namespaces whose children alone make a message worth archiving (beyond <body/> and <subject/>). */
const WORTH = new Set<string | undefined>([
  'urn:xmpp:eme:0', // an encrypted message says nothing readable, so assume it matters
  NS.RECEIPTS, // asking for a receipt, and the receipt, belong to the conversation
  NS.MARKERS,
  'jabber:x:conference', // direct MUC invitations (XEP-0249)
  'urn:xmpp:jingle-message:0', // call attempts (XEP-0353)
  'urn:xmpp:jingle-message:1',
  'urn:xmpp:omemo:2', // OMEMO without a fallback body
  'eu.siacs.conversations.axolotl',
]);

/** Children never kept in the archive's copy (Prosody's dont_archive_namespaces default). */
const NOT_KEPT = new Set<string | undefined>([NS.CHATSTATES]);

/** True when a message of this shape belongs in a user's archive (before preferences apply). */
export function archivable(stanza: Element): boolean {
  const type = stanza.attrs.type ?? 'normal';
  // Errors, headlines and groupchat (the room archives that) are not user history.
  if (type !== 'chat' && type !== 'normal') return false;
  // Carbon copies and archive results wrap messages that were archived where they happened.
  if (stanza.getChild('received', NS.CARBONS) || stanza.getChild('sent', NS.CARBONS)) return false;
  if (stanza.getChild('no-store', NS.HINTS) || stanza.getChild('no-permanent-store', NS.HINTS)) return false;
  if (stanza.getChild('store', NS.HINTS)) return true;
  if (stanza.getChild('body') || stanza.getChild('subject')) return true;
  const invite = stanza.getChild('x', NS.MUC_USER);
  if (invite?.getChild('invite')) return true;
  return stanza.elements().some((c) => WORTH.has(c.xmlns));
}

/**
 * The copy the archive keeps: the message without chat states, in jabber:client; undefined when
 * nothing is left. It is taken before the archive stamps its own stanza-id (a result carries the
 * id in <result id/>).
 */
export function storedCopy(stanza: Element): Element | undefined {
  const kept = stanza.children.filter((c) => typeof c === 'string' || !NOT_KEPT.has(c.xmlns));
  if (!kept.some((c) => typeof c !== 'string')) return undefined;
  return new Element('message', { ...stanza.attrs, xmlns: NS.CLIENT }, kept.filter((c) => typeof c !== 'string' || c.trim() !== ''));
}
