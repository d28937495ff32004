// Private XML storage: any element a client wants kept on its own account, legacy bookmarks
// included. References: XEP-0049 (Private XML Storage), XEP-0048 v1.0 (storage:bookmarks).
//
// Each stored element is keyed by "name namespace" in a map store per account. A get names one
// element and gets it back as stored, or empty when nothing is. A set may carry several
// elements and stores them all or none; an element with no content deletes its key. Only the
// account itself is served: anyone else gets `forbidden` (XEP-0049 prefers it to
// service-unavailable). `not-acceptable` answers a query with no element, and one in a
// jabber:* namespace, which XEP-0049 reserves (an element without its own namespace inherits
// jabber:iq:private and falls under the same rule).
import { defineModule } from '../core/modules.js';
import { x, type Element } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { StanzaError } from '../core/errors.js';
import { fromJSON, toJSON, type ElementJSON } from '../xml/json.js';

/** Private XML one account may keep, in bytes of its stored form. */
const MAX_BYTES_PER_ACCOUNT = 1024 * 1024;

export default defineModule({
  name: 'private',
  setup(ctx) {
    ctx.feature(NS.PRIVATE);
    const store = ctx.store<ElementJSON>('private', 'map');
    const host = ctx.host;
    // Read-modify-write of one account's map, one at a time (two resources may set at once).
    const queues = new Map<string, Promise<unknown>>();
    const serial = <T>(user: string, task: () => Promise<T>): Promise<T> => {
      const prev = queues.get(user) ?? Promise.resolve();
      const run = prev.then(task, task);
      const tail = run.catch(() => undefined);
      queues.set(user, tail);
      void tail.then(() => { if (queues.get(user) === tail) queues.delete(user); });
      return run;
    };

    ctx.iq('get', 'self', NS.PRIVATE, 'query', async (ev) => {
      const query = ev.stanza.getChild('query', NS.PRIVATE) as Element;
      const items = query.elements();
      if (items.length === 0) throw new StanzaError('not-acceptable', 'name the element to fetch, e.g. <storage xmlns="storage:bookmarks"/>');
      if (items.length > 1) throw new StanzaError('not-acceptable', 'fetch one element at a time');
      const item = items[0] as Element;
      const ns = checkedNamespace(item, [query, ev.stanza]);
      const stored = await store.get(ev.from!.local, keyOf(item.local, ns));
      return x('query', { xmlns: NS.PRIVATE }, stored ? fromJSON(stored) : x(item.local, { xmlns: ns }));
    });

    ctx.iq('set', 'self', NS.PRIVATE, 'query', async (ev) => {
      const query = ev.stanza.getChild('query', NS.PRIVATE) as Element;
      const items = query.elements();
      if (items.length === 0) throw new StanzaError('not-acceptable', 'nothing to store: put the element inside <query/>');
      // Check everything before anything is written.
      const updates = items.map((item): [string, ElementJSON | undefined] => {
        const ns = checkedNamespace(item, [query, ev.stanza]);
        return [keyOf(item.local, ns), isEmpty(item) ? undefined : toJSON(selfContained(item, [query, ev.stanza]))];
      });
      const user = ev.from!.local;
      await serial(user, async () => {
        const all = await store.getAll(user);
        for (const [key, value] of updates) {
          if (value === undefined) delete all[key];
          else all[key] = value;
        }
        if (JSON.stringify(all).length > MAX_BYTES_PER_ACCOUNT) {
          throw new StanzaError('policy-violation', `private storage is limited to ${MAX_BYTES_PER_ACCOUNT} bytes per account`);
        }
        await store.setAll(user, all);
      });
      return undefined;
    });

    for (const type of ['get', 'set'] as const) {
      ctx.iq(type, 'bare', NS.PRIVATE, 'query', () => {
        throw new StanzaError('forbidden', "private XML storage is its owner's alone");
      });
    }

    ctx.hook('user-deleted', async ({ host: name, username }) => {
      if (name !== host.name) return undefined;
      await serial(username, () => store.setAll(username, undefined));
      return undefined;
    });
  },
});

function keyOf(name: string, ns: string): string {
  return `${name} ${ns}`;
}

/** The element's namespace, resolved through its ancestors; refused when reserved. */
function checkedNamespace(el: Element, ancestors: readonly Element[]): string {
  const ns = namespaceOf(el, ancestors);
  if (ns === undefined || ns === '' || ns.startsWith('jabber:')) {
    throw new StanzaError('not-acceptable', `<${el.local}/> needs a namespace of its own; jabber:* namespaces are reserved (XEP-0049)`);
  }
  return ns;
}

function namespaceOf(el: Element, ancestors: readonly Element[]): string | undefined {
  const colon = el.name.indexOf(':');
  const key = colon < 0 ? 'xmlns' : `xmlns:${el.name.slice(0, colon)}`;
  for (const e of [el, ...ancestors]) if (e.attrs[key] !== undefined) return e.attrs[key];
  return undefined;
}

/** No children and no attributes beyond namespace declarations: nothing to keep. */
function isEmpty(el: Element): boolean {
  return el.children.length === 0 && Object.keys(el.attrs).every((k) => k === 'xmlns' || k.startsWith('xmlns:'));
}

/** A copy carrying the prefix declarations it borrowed from the iq, so it stands alone. */
function selfContained(el: Element, ancestors: readonly Element[]): Element {
  const copy = el.clone();
  for (const a of ancestors) {
    for (const [k, v] of Object.entries(a.attrs)) if (k.startsWith('xmlns:') && copy.attrs[k] === undefined) copy.attrs[k] = v;
  }
  return copy;
}
