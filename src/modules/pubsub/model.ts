// What the pubsub engine works with: a service's limits, nodes and items as stored,
// affiliations, the changes it reports, and the errors and events every layer above builds.
// References: XEP-0060 §4.1 (affiliations), §7.1.3 and §7.1.5 (errors), §12.8 (item ids).
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import type { ElementJSON } from '../../xml/json.js';
import { StanzaError } from '../../core/errors.js';
import type { SubOptions } from './sub-options.js';
import type { NodeConfig } from './node-config.js';
import type { PendingLimits } from './subscriptions.js';

/** Limits of one service (a PEP account, or one pubsub component). */
export interface PubsubLimits {
  /** Most items a node keeps; also what max_items 'max' means (pep_max_items). */
  maxItems: number;
  /** Most bytes of one item as serialised XML (pep_max_item_bytes). */
  itemBytes: number;
  /** Most nodes per service (pep_max_nodes). */
  nodes: number;
  /** Most bytes of all stored nodes of one service (pep_max_bytes). */
  serviceBytes: number;
  /** Most explicit subscriptions per node. */
  subscribers: number;
  /** What one service is, in error texts: a PEP 'account' (the default) or a pubsub 'service'. */
  scope?: 'account' | 'service';
  /** Bounds on pending subscription requests (access model 'authorize'); DEFAULT_PENDING_LIMITS when absent. */
  pending?: PendingLimits;
}

/** One stored item; `published` is its publish time (ISO 8601), absent on items stored before it was kept. */
export interface StoredItem { id: string; item: ElementJSON; publisher?: string; published?: string }

/**
 * One node as stored: its configuration, its items (newest first), explicit subscribers' JIDs,
 * JIDs whose subscription waits for an owner's approval (§6.1.2), their options (§6.3), and
 * affiliations.
 */
export interface StoredNode {
  config: Partial<NodeConfig>;
  items: StoredItem[];
  subscribers?: string[];
  pending?: string[];
  subOptions?: Record<string, SubOptions>;
  affiliations?: Record<string, Affiliation>;
}

/** A JID's standing on a node (XEP-0060 §4.1); 'none' is never stored. */
export type Affiliation = 'owner' | 'publisher' | 'member' | 'none' | 'outcast';

/** What the engine tells the layer above about a change. */
export interface Change {
  service: string;
  node: string;
  config: NodeConfig;
  /** The `<event xmlns='…pubsub#event'/>` to deliver. */
  event: Element;
  kind: 'publish' | 'retract' | 'purge' | 'delete' | 'config';
  /** The item published or the id retracted. */
  item?: Element;
  id?: string;
  /** JIDs with an explicit subscription to the node (XEP-0060 §6.1), notified besides whoever the layer above adds. */
  subscribers: readonly string[];
}

export type Notify = (change: Change) => void | Promise<void>;

/** A pubsub error with its application-specific condition (XEP-0060 §7.1.3, §7.1.5). */
export function pubsubError(condition: ConstructorParameters<typeof StanzaError>[0], specific: string, text?: string): StanzaError {
  return new StanzaError(condition, text, undefined, x(specific, { xmlns: NS.PUBSUB_ERRORS }));
}

/** A valid node name: non-empty, bounded (it becomes a store key). */
export function checkNodeName(node: string | undefined): string {
  if (node === undefined || node === '') throw pubsubError('bad-request', 'nodeid-required');
  if (node.length > 1024) throw new StanzaError('not-acceptable', 'node names are at most 1024 characters');
  return node;
}

/** The `<event/>` of a publish: the item, without its payload when deliver_payloads is off. */
export function publishEvent(node: string, item: Element, config: NodeConfig): Element {
  const shown = config.deliver_payloads ? item : x('item', { id: item.attrs.id });
  return x('event', { xmlns: NS.PUBSUB_EVENT }, x('items', { node }, shown));
}
