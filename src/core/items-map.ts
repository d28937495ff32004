// What modules offer each other with ctx.provide(kind, item) and read with ctx.items(kind): every
// kind and its item type, declared once (design.md §4), so a kind nobody declared, or an item of
// the wrong shape, is a compile error. Module types are imported as types only: core code never
// runs module code, it only carries the items.
import type { Element } from '../xml/element.js';
import type { AdhocCommand } from '../modules/adhoc/adhoc.js';
import type { BlockCheck } from '../modules/blocklist.js';
import type { RosterStore } from '../modules/roster/roster-store.js';
import type { RoutePolicy } from '../net/connector.js';

/** A disco#info identity (XEP-0030 §3.1). */
export interface Identity { category: string; type: string; name?: string }
/** A disco#items entry of the host (XEP-0030 §4). */
export interface DiscoItem { jid: string; name?: string; node?: string }

export interface ItemMap {
  /** A feature in the host's disco#info (ctx.feature). Read by disco. */
  'feature': string;
  /** An identity in the host's disco#info (ctx.identity). Read by disco. */
  'identity': Identity;
  /** An extended-information data form in the host's disco#info (XEP-0128): a `<x xmlns='jabber:x:data' type='result'>` with a FORM_TYPE. Read by disco. */
  'extension': Element;
  /** An entry in the host's disco#items: the `disco_items` option, components, services (MUC, upload). Read by disco. */
  'disco-item': DiscoItem;
  /** A feature in every account's disco#info (XEP-0030 §3.2): what the server does for accounts (PEP, MAM). Read by disco. */
  'account-feature': string;
  /** An ad-hoc command (XEP-0050). Read by adhoc. */
  'adhoc-command': AdhocCommand;
  /** Whether a user blocks a JID (XEP-0191), for modules that store on the user's behalf. Provided by blocklist. */
  'block-check': BlockCheck;
  /** The host's rosters; one, opened by presence (loaded on every host). */
  'roster-store': RosterStore;
  /** How to reach a remote domain (darknet routing). Read by the s2s layer. */
  'route-policy': RoutePolicy;
}

/** A kind of item modules offer each other. */
export type ItemKind = keyof ItemMap;
