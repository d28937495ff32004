// What modules offer each other with ctx.provide(kind, item) and read with ctx.items(kind): every
// kind and its item type, declared once, so a kind nobody declared, or an item of the wrong
// shape, is a compile error. Core declares the kinds disco reads; a module that owns a kind
// declares it beside its item type by augmenting ItemMap (`declare module`), so core never
// imports a module (docs/architecture.md, "Layers").
import type { Element } from '../xml/element.js';
import type { HttpAltConnection, HttpRoute } from './http.js';

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
  /** An identity in every account's disco#info besides account/registered (PEP's pubsub/pep, XEP-0163 §6.1). Read by disco. */
  'account-identity': Identity;
  /** A route on the host's HTTP service (src/net/http/): http_file_share, host-meta, … Read by main's HTTP service, which listens once any host offers one. */
  'http-route': HttpRoute;
  /** An alternative connection method over HTTP (XEP-0156: WebSocket, BOSH). Read by http_host_meta. */
  'http-alt-connection': HttpAltConnection;
}

/** A kind of item modules offer each other. */
export type ItemKind = keyof ItemMap;
