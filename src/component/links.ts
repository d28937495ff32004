// Which external components are configured on this server and which of them are connected: the
// meeting point of the XEP-0114 listener (src/component/stream.ts) and the `component` module
// of each external component host (src/component/external.ts). One connection per component:
// a second one is refused with `conflict`, as Prosody does by default (kick_new).
import type { StreamError } from '../core/errors.js';
import type { ComponentSession } from '../core/session.js';

/** A configured external component, as its host's `component` module registers it. */
export interface ExternalComponent {
  /** component_secret as configured now (a reload may change it); undefined when unset. */
  secret(): string | undefined;
}

export class ComponentLinks {
  private readonly configured = new Map<string, ExternalComponent>();
  private readonly connected = new Map<string, ComponentSession>();

  /** The component host for `domain` is up (its module loaded). */
  register(domain: string, component: ExternalComponent): void {
    this.configured.set(domain, component);
  }

  /** The component host is going away: its connection (if any) ends with `why`. */
  unregister(domain: string, why: StreamError): void {
    this.configured.delete(domain);
    const session = this.connected.get(domain);
    this.connected.delete(domain);
    session?.close(why);
  }

  /** The configured external component for `domain`, or undefined. */
  find(domain: string): ExternalComponent | undefined {
    return this.configured.get(domain);
  }

  /** Make `session` the connection of its domain; false when another one already is. */
  attach(session: ComponentSession): boolean {
    if (!this.configured.has(session.domain) || this.connected.has(session.domain)) return false;
    this.connected.set(session.domain, session);
    return true;
  }

  /** `session` ended: its domain has no connection any more (unless another took over). */
  detach(session: ComponentSession): void {
    if (this.connected.get(session.domain) === session) this.connected.delete(session.domain);
  }

  /** The connected session of `domain`, if any. */
  session(domain: string): ComponentSession | undefined {
    return this.connected.get(domain);
  }

  /** How many external components are configured (the listener is opened when there is one). */
  get size(): number {
    return this.configured.size;
  }
}
