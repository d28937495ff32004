// What is kept of an unanswered subscription request: who asked, its id, and a short status and
// nick. Anyone may send requests, so what they leave in storage must not grow with what they
// send: a request is stored as a few hundred bytes at most, never its whole payload.
// References: RFC 6121 §3.1.3 (the server stores the request until the user answers),
// XEP-0172 (User Nickname in subscription requests).
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';

/** Longest status text kept with a stored request, in UTF-8 bytes. */
export const MAX_REQUEST_STATUS_BYTES = 1024;
/** Longest nickname (XEP-0172) kept with a stored request, in UTF-8 bytes. */
export const MAX_REQUEST_NICK_BYTES = 256;
/** Longest id kept with a stored request, in bytes (a longer one is left out). */
export const MAX_REQUEST_ID_BYTES = 256;

const NS_NICK = 'http://jabber.org/protocol/nick';

/** `s` cut to at most `max` UTF-8 bytes, never inside a character. */
export function truncateUtf8(s: string, max: number): string {
  if (Buffer.byteLength(s, 'utf8') <= max) return s;
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** A stanza's own-namespace child (no xmlns, or the stream's content namespace). */
function plainChild(stanza: Element, name: string): Element | undefined {
  return stanza.getChildren(name).find((c) => c.xmlns === undefined || c.xmlns === NS.CLIENT || c.xmlns === NS.SERVER);
}

/**
 * The request as stored and redelivered: `<presence type='subscribe'/>` from the contact to the
 * user with its id, and the first status and nick cut to their limits. Everything else is left out.
 */
export function storedRequest(stanza: Element, from: string, to: string): Element {
  const id = stanza.attrs.id;
  const el = x('presence', { from, to, type: 'subscribe', id: id !== undefined && Buffer.byteLength(id) <= MAX_REQUEST_ID_BYTES ? id : undefined });
  const status = plainChild(stanza, 'status')?.text();
  if (status) el.append(x('status', null, truncateUtf8(status, MAX_REQUEST_STATUS_BYTES)));
  const nick = stanza.getChild('nick', NS_NICK)?.text();
  if (nick) el.append(x('nick', { xmlns: NS_NICK }, truncateUtf8(nick, MAX_REQUEST_NICK_BYTES)));
  return el;
}
