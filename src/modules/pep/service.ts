// What other modules (bookmarks, avatars, private PEP storage) use of users' PEP services
// (XEP-0163), offered by the pep module as the 'pep-service' item. The pep module implements it;
// other modules read `ctx.items('pep-service')[0]` and hear the events below.
import type { Element } from '../../xml/element.js';

/** Node configuration fields by their pubsub#… names: 'pubsub#access_model' → 'open'. */
export type NodeOptions = Readonly<Record<string, string | readonly string[]>>;

export interface PepService {
  /**
   * Publish `item` (an `<item/>`, id generated when absent) to `user`'s `node` as that user's
   * own client would: the node is created with `options` when missing; on an existing node the
   * options are publish-options preconditions (StanzaError 'conflict' with
   * precondition-not-met when they do not match). Notifies like a client's publish. Resolves
   * with the item id.
   */
  publish(user: string, node: string, item: Element, options?: NodeOptions): Promise<string>;
  /** Remove one item, notifying with a retract; nothing happens when it does not exist. */
  retract(user: string, node: string, id: string): Promise<void>;
  /** The node's items, newest first; [] when the node does not exist. */
  items(user: string, node: string): Promise<Element[]>;
  /** Delete the node and its items, notifying subscribers; nothing happens when it does not exist. */
  deleteNode(user: string, node: string): Promise<void>;
  /** Full JIDs whose entity capabilities show `<node>+notify` for `user`'s PEP (own resources and contacts). */
  interested(user: string, node: string): string[];
  /**
   * Force `options` onto an existing node, as Prosody's bookmarks module does for its node: true
   * when the node's config differed and was rewritten; false when it already matched or does not exist.
   */
  enforce(user: string, node: string, options: NodeOptions): Promise<boolean>;
}

declare module '../../core/items-map.js' {
  interface ItemMap {
    /** Users' PEP services (XEP-0163). Provided by pep; read by bookmarks, avatar conversion. */
    'pep-service': PepService;
  }
}

declare module '../../core/events-map.js' {
  interface EventMap {
    /** An item was published to a user's PEP node, by a client or a module (after it is stored). */
    'pep-item-published': { user: string; node: string; item: Element };
    /** An item was retracted from a user's PEP node (after it is removed). */
    'pep-item-retracted': { user: string; node: string; id: string };
    /** A user's PEP node lost all its items: purged or deleted (after the change is stored). */
    'pep-node-emptied': { user: string; node: string; kind: 'purge' | 'delete' };
    /** `jid` newly shows `<node>+notify` for `nodes` of `user`'s PEP (its caps were learnt). */
    'pep-interest-shown': { user: string; jid: string; nodes: readonly string[] };
  }
}
