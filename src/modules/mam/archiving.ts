// Archiving messages as they are routed (XEP-0313 §5.1.1 user archives, XEP-0359 stanza-id).
// Both directions: a message a local client sends goes into its sender's archive, a message for a
// local account into the recipient's, local or remote on the other side. The append is awaited
// inside routing, before the message is copied (carbons) or delivered (live or offline): a client
// sees a stanza-id only for a durable item. Once the appends are queued in their owners' order
// (ArchiveStore.append's `queued`), the stanza's turn is released (src/core/turn.ts): the client
// stream may start its next message, whose appends queue after these and share their journal
// write, while this one waits for durability and then for the stream's previous stanza, so
// delivery keeps the sent order. A stream-management <r/> waits for every stanza in flight
// (docs/architecture.md, "Handling order"), so a message the server acknowledged is in the
// archive. A message the archive cannot take (full, disk behind) is still delivered, without a
// stanza-id.
//
// Each host archives for its own accounts: a message between two hosts of this server is archived
// by the sender's host on 'route/other-host' (as on 'route/remote') and by the recipient's host
// here; the sender's view (its own archive id, for its carbons) travels with the stanza.
import type { Element } from '../../xml/element.js';
import type { Jid } from '../../jid/jid.js';
import type { StanzaEvent } from '../../core/events-map.js';
import type { Logger } from '../../core/log.js';
import { ArchiveQuotaError, type ArchiveStore } from '../../storage/store.js';
import { archivable, storedCopy } from './policy.js';
import { carrySentView, hasClaim, setSentView, stripClaims, withStanzaId } from './stanza-id.js';

/** What archiving needs from the module. */
export interface ArchivingDeps {
  host: string;
  store: ArchiveStore;
  log: Logger;
  now(): number;
  /** Whether `user`'s preferences let a message with `withBare` be archived (account existence included). */
  shallArchive(user: string, withBare: string): Promise<boolean>;
}

/**
 * Append, making room as Prosody does when the archive is full: drop the oldest 1 % and try once
 * more; undefined when it could not be archived (logged). `queued` as for ArchiveStore.append.
 * Room archives (muc_mam) use it too.
 */
export async function appendMakingRoom(d: Pick<ArchivingDeps, 'store' | 'log' | 'now'>, owner: string, withBare: string, payload: string, queued?: () => void): Promise<string | undefined> {
  const item = { with: withBare, payload, when: d.now() };
  try {
    return await d.store.append(owner, item, queued);
  } catch (err) {
    if (!(err instanceof ArchiveQuotaError)) {
      d.log.warn({ err, owner }, 'a message was not archived');
      return undefined;
    }
  }
  try {
    const { count } = await d.store.metadata(owner);
    await d.store.truncate(owner, Math.floor(count * 0.99));
    return await d.store.append(owner, item, queued);
  } catch (err) {
    d.log.warn({ err, owner }, 'a message was not archived: the archive is full');
    return undefined;
  }
}

/** The local account that sent this through its own client on this host, if any. */
function localSender(d: ArchivingDeps, ev: StanzaEvent): Jid | undefined {
  const { origin, from } = ev;
  if (!origin || origin.kind !== 'c2s' || !from || !from.local || from.domain !== d.host) return undefined;
  return from;
}

/** An archive write and when its item's place in the owner's order is fixed (or it has none). */
interface Placed<T> {
  done: Promise<T>;
  /** Resolves once the item is queued in its owner's order, or the write settled without it. */
  placed: Promise<void>;
}

/** Run an archive write that reports through `queued` when its item is in its owner's order. */
function placed<T>(write: (queued: () => void) => Promise<T>): Placed<T> {
  let mark!: () => void;
  const at = new Promise<void>((resolve) => (mark = resolve));
  const done = write(mark);
  done.then(mark, mark);
  return { done, placed: at };
}

/**
 * Release the stanza's turn (src/core/turn.ts) once every write's item is in its owner's order:
 * the stream's next message may then start and append after them. Resolves once the previous
 * stanza of the stream has settled (at once without a turn).
 */
function releaseWhenPlaced(ev: StanzaEvent, writes: readonly (Placed<unknown> | undefined)[]): Promise<void> {
  const turn = ev.turn;
  if (!turn) return Promise.resolve();
  return Promise.all(writes.map((w) => w?.placed)).then(() => turn.release());
}

/** Archive the sender's side of a message a local client sent; returns the stanza the sender's resources see, if archived. */
async function archiveSent(d: ArchivingDeps, stanza: Element, payload: string, sender: Jid, to: Jid, queued: () => void): Promise<Element | undefined> {
  const withBare = to.bare().toString();
  if (!(await d.shallArchive(sender.local, withBare))) return undefined;
  const id = await appendMakingRoom(d, sender.local, withBare, payload, queued);
  return id === undefined ? undefined : withStanzaId(stanza, sender.bare().toString(), id);
}

/** 'message/bare' and 'message/full' on the recipient's host: both sides when the sender is local here. */
export async function onLocalMessage(d: ArchivingDeps, ev: StanzaEvent): Promise<undefined> {
  const to = ev.to;
  if (!to || !to.local) return undefined;
  const toBare = to.bare().toString();
  let stanza = ev.stanza;
  // Routed again by the server itself (stream management after a lost session): archived already.
  if (!ev.origin && hasClaim(stanza, toBare)) return undefined;
  stanza = stripClaims(stanza, toBare);
  const sender = localSender(d, ev);
  const self = sender !== undefined && sender.local === to.local;
  if (sender && !self) stanza = stripClaims(stanza, sender.bare().toString());
  const routedIn = ev.stanza;
  ev.stanza = stanza;
  carrySentView(routedIn, stanza);
  if (!archivable(stanza)) return undefined;
  // The two appends run side by side; the store's journal makes them (and every other stream's
  // appends in flight) durable in one shared write.
  // Both archives keep the same copy: serialised once.
  const payload = storedCopy(stanza)?.toString();
  if (payload === undefined) return undefined;
  const withBare = ev.from ? ev.from.bare().toString() : to.domain;
  const received = async (queued: () => void): Promise<string | undefined> =>
    (await d.shallArchive(to.local, withBare)) ? appendMakingRoom(d, to.local, withBare, payload, queued) : undefined;
  const mine = sender && !self ? placed((q) => archiveSent(d, stanza, payload, sender, to, q)) : undefined;
  const theirs = placed(received);
  const previous = releaseWhenPlaced(ev, [mine, theirs]);
  const [sent, id] = await Promise.all([mine?.done, theirs.done]);
  await previous; // nothing of this stanza may overtake the stream's previous one
  if (id !== undefined) ev.stanza = withStanzaId(stanza, toBare, id);
  // The sender's other resources see their own archive's id, never the recipient's.
  if (sender && !self && ev.stanza !== stanza) setSentView(ev.stanza, sent ?? stanza);
  else if (sent) setSentView(ev.stanza, sent);
  else carrySentView(routedIn, ev.stanza);
  return undefined;
}

/** 'route/remote' on the sender's host: a local client's message to another server. */
export async function onRemoteMessage(d: ArchivingDeps, ev: StanzaEvent): Promise<undefined> {
  const sender = localSender(d, ev);
  if (ev.stanza.name !== 'message' || !sender || !ev.to) return undefined;
  // Our user's archive ids never leave the server, whoever claims them.
  ev.stanza = stripClaims(ev.stanza, sender.bare().toString());
  if (!archivable(ev.stanza)) return undefined;
  const payload = storedCopy(ev.stanza)?.toString();
  if (payload === undefined) return undefined;
  const to = ev.to;
  const write = placed((q) => archiveSent(d, ev.stanza, payload, sender, to, q));
  const previous = releaseWhenPlaced(ev, [write]);
  const sent = await write.done;
  await previous;
  if (sent) setSentView(ev.stanza, sent);
  return undefined;
}
