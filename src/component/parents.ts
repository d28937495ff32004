// A component is listed in the disco#items of its parent host (XEP-0030): the VirtualHost whose
// domain it is a subdomain of (conference.example → example; the nearest one when several
// enclose it), named by the component's `name` option. Prosody lists components under the
// domain one label up; the nearest enclosing VirtualHost is the same there and also finds
// deeper names. Kept in step after start and after every reload, because either side may come
// or go.
import type { Host } from '../core/host.js';
import type { DiscoItem } from '../modules/disco.js';

/** The VirtualHost among `virtualHosts` that `component` is the nearest subdomain of, if any. */
export function parentOf(component: string, virtualHosts: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const h of virtualHosts) {
    if (component.endsWith(`.${h}`) && (best === undefined || h.length > best.length)) best = h;
  }
  return best;
}

/** Keeps each component's disco-item on its parent host. */
export class ComponentDisco {
  private readonly listed = new Map<string, { parent: Host; item: DiscoItem }>();

  /** Make the listed items match the hosts now running. */
  sync(hosts: ReadonlyMap<string, Host>): void {
    const virtual = [...hosts.values()].filter((h) => h.kind === 'VirtualHost').map((h) => h.name);
    const wanted = new Map<string, { parent: Host; item: DiscoItem }>();
    for (const h of hosts.values()) {
      if (h.kind !== 'Component') continue;
      const parent = parentOf(h.name, virtual);
      if (parent === undefined) continue;
      const name = h.config.get<string | undefined>('name', h.name);
      wanted.set(h.name, { parent: hosts.get(parent) as Host, item: { jid: h.name, ...(name ? { name } : {}) } });
    }
    for (const [domain, had] of this.listed) {
      const want = wanted.get(domain);
      if (want && want.parent === had.parent && want.item.name === had.item.name) {
        wanted.set(domain, had);
        continue;
      }
      had.parent.withdraw('disco-item', had.item);
      this.listed.delete(domain);
    }
    for (const [domain, want] of wanted) {
      if (this.listed.get(domain) === want) continue;
      want.parent.provide('disco-item', want.item);
      this.listed.set(domain, want);
    }
  }
}
