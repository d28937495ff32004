// Resource binding (RFC 6120 §7): the server picks a resource when the client sends none; a new
// session with a full JID already in use replaces the old one, which gets a `conflict` error; an
// account may hold at most `max_resources` sessions (hibernating ones included), beyond which bind
// fails with `resource-constraint` (RFC 6120 §7.6.2.1).
import { randomId } from '../random-id.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { Jid, prepResource, JidError } from '../jid/jid.js';
import { StanzaError, StreamError, errorReply } from '../core/errors.js';
import { iqResult } from '../core/stanza.js';
import type { C2SConnection } from './c2s.js';

/** Bind a resource for an authenticated connection, answering the client's bind iq. */
export function bindResource(conn: C2SConnection, iq: Element): void {
  if (iq.attrs.type !== 'set') {
    const reply = errorReply(iq, new StanzaError('bad-request', 'bind is an iq of type set'));
    if (reply) conn.send(reply);
    return;
  }
  const host = conn.hostObj!;
  const requested = iq.getChild('bind', NS.BIND)?.getChildText('resource')?.trim();
  let resource: string;
  try {
    resource = requested ? prepResource(requested) : '';
  } catch (err) {
    if (!(err instanceof JidError)) throw err;
    const reply = errorReply(iq, new StanzaError('bad-request', 'the resource is not valid'));
    if (reply) conn.send(reply);
    return;
  }
  if (resource === '') {
    do resource = `clove-${randomId(6)}`;
    while (host.sessions.hasResource(host.name, conn.username, resource));
  }
  const max = host.config.get<number>('max_resources', host.name);
  const others = host.sessions.ofUser(host.name, conn.username).filter((s) => s.jid?.resource !== resource).length;
  if (others >= max) {
    conn.log.info({ sessions: others, max }, 'bind refused: the account has too many sessions');
    const reply = errorReply(iq, new StanzaError('resource-constraint', `this account already has ${others} sessions (at most ${max})`, 'wait'));
    if (reply) conn.send(reply);
    return;
  }
  const jid = new Jid(conn.username, host.name, resource);
  conn.bound(jid);
  const old = host.sessions.add(conn);
  if (old && old !== conn) old.close(new StreamError('conflict', 'replaced by a new session with the same resource'));
  conn.send(iqResult(iq, x('bind', { xmlns: NS.BIND }, x('jid', null, jid.toString()))));
  // Only when it is written: the stream's child logger is made for each line it logs.
  if (conn.logs('info')) conn.log.info({ jid: jid.toString() }, 'session bound');
  void host.events.fire('session-bound', { session: conn });
}
