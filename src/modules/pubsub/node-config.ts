// Node configuration: the fields a node has, their defaults, reading them from a data form
// (pubsub#owner configure, publish-options) and writing them as one.
// References: XEP-0060 §8.2 (configure), §7.1.5 (publish-options), §16.4.4 (pubsub#node_config).
import type { Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { StanzaError } from '../../core/errors.js';
import { formElement, submittedForm, type Field } from '../adhoc/dataforms.js';

export type AccessModel = 'open' | 'authorize' | 'presence' | 'roster' | 'whitelist';
/** Who may publish (XEP-0060 §16.4.4 pubsub#publish_model). */
export type PublishModel = 'publishers' | 'subscribers' | 'open';
export type SendLast = 'never' | 'on_sub' | 'on_sub_and_presence';

/** The access and publish models a service offers in its configuration forms. */
export interface ConfigModels {
  access: readonly AccessModel[];
  publish: readonly PublishModel[];
}

/** PEP: no 'authorize' (nobody approves requests to an account), and only the owner publishes. */
export const PEP_MODELS: ConfigModels = { access: ['open', 'presence', 'roster', 'whitelist'], publish: ['publishers'] };
/** A pubsub component: every access model, and publishers, subscribers or anyone may publish. */
export const SERVICE_MODELS: ConfigModels = { access: ['open', 'authorize', 'presence', 'roster', 'whitelist'], publish: ['publishers', 'subscribers', 'open'] };

/** A node's configuration as stored. */
export interface NodeConfig {
  access_model: AccessModel;
  /** Roster groups whose members may read a node with access_model 'roster'. */
  roster_groups_allowed: string[];
  persist_items: boolean;
  /** A number of items, or 'max': the service's limit. */
  max_items: number | 'max';
  publish_model: PublishModel;
  send_last_published_item: SendLast;
  deliver_payloads: boolean;
  deliver_notifications: boolean;
  notify_retract: boolean;
  notify_delete: boolean;
  notify_config: boolean;
  title: string;
  description: string;
  type: string;
}

/** What PEP nodes start with (XEP-0163 §5 and Prosody's mod_pep defaults). */
export function defaultConfig(): NodeConfig {
  return {
    access_model: 'presence', roster_groups_allowed: [], persist_items: true, max_items: 1,
    publish_model: 'publishers', send_last_published_item: 'on_sub_and_presence',
    deliver_payloads: true, deliver_notifications: true, notify_retract: true, notify_delete: true,
    notify_config: false, title: '', description: '', type: '',
  };
}

type Key = keyof NodeConfig;

/** How one field is read from form values and written back. */
interface FieldSpec {
  readonly key: Key;
  readonly type: Field['type'];
  readonly label: string;
  /** The choices of a list-single, given the service's models. */
  readonly options?: (models: ConfigModels) => readonly string[];
  /** The value, or a string saying why the values are not acceptable. */
  parse(values: readonly string[], maxItems: number, models: ConfigModels): NodeConfig[Key] | { invalid: string };
  show(value: NodeConfig[Key]): string[];
}

const one = (values: readonly string[]): string | undefined => (values.length === 1 ? values[0] : undefined);

function bool(key: Key, label: string): FieldSpec {
  return {
    key, type: 'boolean', label,
    parse: (v) => {
      const s = one(v);
      if (s === '1' || s === 'true') return true;
      if (s === '0' || s === 'false') return false;
      return { invalid: `${key} must be a boolean` };
    },
    show: (v) => [v ? '1' : '0'],
  };
}

function choice(key: Key, label: string, options: (models: ConfigModels) => readonly string[]): FieldSpec {
  return {
    key, type: 'list-single', label, options,
    parse: (v, _max, models) => {
      const s = one(v);
      const allowed = options(models);
      return s !== undefined && allowed.includes(s) ? s as NodeConfig[Key] : { invalid: `${key} must be one of ${allowed.join(', ')}` };
    },
    show: (v) => [String(v)],
  };
}

function text(key: Key, label: string): FieldSpec {
  return {
    key, type: 'text-single', label,
    parse: (v) => {
      const s = v.length === 0 ? '' : one(v);
      return s !== undefined && s.length <= 1024 ? s : { invalid: `${key} must be one line of at most 1024 characters` };
    },
    show: (v) => (v === '' ? [] : [String(v)]),
  };
}

const FIELDS: readonly FieldSpec[] = [
  text('title', 'A friendly name for the node'),
  text('description', 'A description of the node'),
  text('type', 'The type of node data, usually a namespace'),
  choice('access_model', 'Who may subscribe and retrieve items', (m) => m.access),
  {
    key: 'roster_groups_allowed', type: 'list-multi', label: 'Roster groups allowed to subscribe',
    parse: (v) => (v.length <= 64 && v.every((g) => g.length <= 1024) ? [...v] : { invalid: 'at most 64 roster groups of 1024 characters' }),
    show: (v) => [...(v as string[])],
  },
  bool('persist_items', 'Persist items to storage'),
  {
    key: 'max_items', type: 'text-single', label: 'Max number of items to persist ("max" for the limit)',
    parse: (v, limit) => {
      const s = one(v);
      if (s === 'max') return 'max';
      const n = s !== undefined && /^\d{1,9}$/.test(s) ? Number(s) : NaN;
      return n >= 1 && n <= limit ? n : { invalid: `max_items must be an integer from 1 to ${limit}, or "max"` };
    },
    show: (v) => [String(v)],
  },
  choice('publish_model', 'Who may publish', (m) => m.publish),
  choice('send_last_published_item', 'When to send the last published item', () => ['never', 'on_sub', 'on_sub_and_presence']),
  bool('deliver_payloads', 'Deliver payloads with event notifications'),
  bool('deliver_notifications', 'Deliver event notifications'),
  bool('notify_retract', 'Notify subscribers when items are removed'),
  bool('notify_delete', 'Notify subscribers when the node is deleted'),
  bool('notify_config', 'Notify subscribers when the configuration changes'),
];

const BY_VAR = new Map(FIELDS.map((f) => [`pubsub#${f.key}`, f]));

/** Fields ('pubsub#…' → values) a config form or publish-options carry, checked one by one. */
export type ConfigChanges = Partial<NodeConfig>;

/** A not-acceptable error naming what was wrong with a form (nothing is applied). */
function refused(why: string): StanzaError {
  return new StanzaError('not-acceptable', why);
}

/**
 * Read a submitted node_config or publish-options form into changes. Unknown fields and invalid
 * values (a model the service does not offer among them) are refused with not-acceptable
 * (XEP-0060 §8.2.5.3), so nothing half-applies.
 */
export function readConfigForm(form: Element, formType: string, maxItems: number, models: ConfigModels = PEP_MODELS): ConfigChanges {
  return readFields(submittedForm(form, formType), maxItems, models);
}

/** Changes from field values by var ('pubsub#access_model' → ['open']). */
export function readFields(fields: ReadonlyMap<string, readonly string[]>, maxItems: number, models: ConfigModels = PEP_MODELS): ConfigChanges {
  const out: Record<string, unknown> = {};
  for (const [name, values] of fields) {
    const spec = BY_VAR.get(name);
    if (!spec) throw refused(`unknown node configuration field '${name}'`);
    const v = spec.parse(values, maxItems, models);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) throw refused(v.invalid);
    out[spec.key] = v;
  }
  return out as ConfigChanges;
}

/** True when `config` has every value `wanted` names (publish-options preconditions). */
export function meets(config: NodeConfig, wanted: ConfigChanges): boolean {
  return Object.entries(wanted).every(([k, v]) => JSON.stringify(config[k as Key]) === JSON.stringify(v));
}

/** The node's configuration as a form (`form`: to fill in; `result`: to read), offering the service's `models`. */
export function configForm(config: NodeConfig, type: 'form' | 'result' = 'form', models: ConfigModels = PEP_MODELS): Element {
  return formElement(type, {
    formType: NS.PUBSUB_NODE_CONFIG,
    fields: FIELDS.map((f) => ({
      var: `pubsub#${f.key}`, type: f.type, label: f.label,
      ...(f.options ? { options: f.options(models) } : {}),
      values: f.show(config[f.key]),
    })),
  });
}

/** A stored config made whole: fields added since are filled from the defaults. */
export function normaliseConfig(stored: Partial<NodeConfig> | undefined): NodeConfig {
  return { ...defaultConfig(), ...(stored ?? {}) };
}

/** The number of items a node keeps under `limit` (the service's pep_max_items). */
export function itemCap(config: NodeConfig, limit: number): number {
  return config.max_items === 'max' ? limit : Math.min(config.max_items, limit);
}
