// Conversion between the two bookmark formats. References: XEP-0402 v1.1 (Bookmarks 2:
// one PEP item per room, id = room JID, <conference xmlns='urn:xmpp:bookmarks:1'>), XEP-0048
// v1.0 (one <storage xmlns='storage:bookmarks'/> holding every <conference jid=…/> and <url/>).
//
// Nothing a format cannot hold is dropped: a Bookmarks 2 item's <extensions/> is kept when a
// legacy client rewrites the room (see `toItem`), and foreign-namespace children of a legacy
// <conference/> go into <extensions/>. Legacy-only children of <storage/> (<url/>) have no place in
// Bookmarks 2; the module keeps them in private storage (`legacyExtras`).
import { x, type Element } from '../../xml/element.js';

export const NS_BOOKMARKS2 = 'urn:xmpp:bookmarks:1';
export const NS_LEGACY = 'storage:bookmarks';
export const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';

/** Node configuration XEP-0402 asks for (the same four Prosody's bookmarks module uses). */
export const BOOKMARKS2_OPTIONS = {
  'pubsub#persist_items': 'true',
  'pubsub#access_model': 'whitelist',
  'pubsub#max_items': 'max',
  'pubsub#send_last_published_item': 'never',
} as const;

/** XEP-0048 autojoin is xs:boolean ('1' or 'true'); XEP-0402 the same; written back as 'true'/'false'. */
function autojoin(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value === 'true' || value === '1' ? 'true' : 'false';
}

/** The legacy <conference/>'s room JID, trimmed; undefined when it has none. */
export function roomOf(conference: Element): string | undefined {
  const jid = conference.attrs.jid?.trim();
  return jid ? jid : undefined;
}

/**
 * The Bookmarks 2 `<item id=room>` for one legacy <conference/>. `previous` (the room's current
 * item, if any) lends its <extensions/> so a legacy client's rewrite does not lose them.
 */
export function toItem(conference: Element, previous?: Element): Element {
  const room = roomOf(conference) ?? '';
  const conf = x('conference', { xmlns: NS_BOOKMARKS2, name: conference.attrs.name, autojoin: autojoin(conference.attrs.autojoin) });
  const nick = conference.getChildText('nick');
  if (nick !== undefined) conf.append(x('nick', null, nick));
  const password = conference.getChildText('password');
  if (password !== undefined) conf.append(x('password', null, password));
  const foreign = conference.elements().filter((c) => c.xmlns !== undefined && c.xmlns !== NS_LEGACY);
  const kept = previous?.getChild('conference', NS_BOOKMARKS2)?.getChild('extensions');
  if (foreign.length > 0 || kept) {
    const ext = kept ? kept.clone() : x('extensions');
    for (const f of foreign) {
      if (!ext.getChildren(f.local, f.xmlns).some((e) => e.toString() === f.toString())) ext.append(f.clone());
    }
    conf.append(ext);
  }
  return x('item', { id: room }, conf);
}

/** The legacy <conference jid=…/> for one Bookmarks 2 item; undefined when it holds no <conference/>. */
export function toLegacyConference(item: Element): Element | undefined {
  const conf = item.getChild('conference', NS_BOOKMARKS2);
  const room = item.attrs.id;
  if (!conf || !room) return undefined;
  const out = x('conference', { jid: room, name: conf.attrs.name, autojoin: autojoin(conf.attrs.autojoin) });
  const nick = conf.getChildText('nick');
  if (nick !== undefined) out.append(x('nick', null, nick));
  const password = conf.getChildText('password');
  if (password !== undefined) out.append(x('password', null, password));
  return out;
}

/** The legacy <storage/> for Bookmarks 2 items (any order), with `extras` (the legacy-only children) after them. */
export function toLegacyStorage(items: readonly Element[], extras: readonly Element[] = []): Element {
  const storage = x('storage', { xmlns: NS_LEGACY });
  for (const item of items) storage.append(toLegacyConference(item));
  for (const e of extras) storage.append(e.clone());
  return storage;
}

/** The children of a legacy <storage/> Bookmarks 2 cannot hold (<url/> and anything else not a <conference/>). */
export function legacyExtras(storage: Element): Element[] {
  return storage.elements().filter((c) => c.local !== 'conference');
}

/** Same room, name, autojoin, nick, password and extensions: publishing `b` again would change nothing. */
export function sameBookmark(a: Element, b: Element): boolean {
  return a.attrs.id === b.attrs.id && canonical(a) === canonical(b);
}

function canonical(item: Element): string {
  const c = item.getChild('conference', NS_BOOKMARKS2);
  if (!c) return '';
  return JSON.stringify([c.attrs.name ?? null, autojoin(c.attrs.autojoin) ?? 'false', c.getChildText('nick') ?? null,
    c.getChildText('password') ?? null, c.getChild('extensions')?.toString() ?? null]);
}

/** The plan to make Bookmarks 2 hold what a legacy <storage/> says: items to publish, room JIDs to retract. */
export function plan(storage: Element, current: readonly Element[]): { publish: Element[]; retract: string[] } {
  const byRoom = new Map(current.filter((i) => i.attrs.id).map((i) => [i.attrs.id as string, i]));
  const publish: Element[] = [];
  const wanted = new Set<string>();
  for (const conference of storage.getChildren('conference')) {
    const room = roomOf(conference);
    if (!room || wanted.has(room)) continue;
    wanted.add(room);
    const previous = byRoom.get(room);
    const item = toItem(conference, previous);
    if (!previous || !sameBookmark(previous, item)) publish.push(item);
  }
  const retract = [...byRoom.keys()].filter((room) => !wanted.has(room));
  return { publish, retract };
}
