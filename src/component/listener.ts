// The XEP-0114 listener: opened on component_ports (Prosody's 5347) at component_interfaces, or
// component_interface (127.0.0.1), once at least one external component is configured (at
// start, or when a reload adds the first one), as Prosody opens it only when mod_component loads.
// Connections are capped like clients' and servers' (admission.ts): components are few and
// local, so the caps are small constants (docs/limits.md).
import type { Socket } from 'node:net';
import type { Config } from '../config/config.js';
import type { Element } from '../xml/element.js';
import type { Logger } from '../core/log.js';
import type { Session } from '../core/session.js';
import { StreamError } from '../core/errors.js';
import { NS } from '../xml/ns.js';
import { listenAll, type Listening } from '../net/listener.js';
import { ConnectionAdmission, refuseConnection } from '../stream/admission.js';
import { ComponentStream } from './stream.js';
import type { ComponentLinks } from './links.js';

/** Component connections open at once, and those still before their handshake. */
export const COMPONENT_MAX_CONNECTIONS = 100;
export const COMPONENT_MAX_UNAUTHENTICATED = 10;

export interface ComponentListenerDeps {
  /** The config in force (reloads replace it). */
  config(): Config;
  log: Logger;
  links: ComponentLinks;
  route(stanza: Element, origin: Session): void | Promise<void>;
}

export class ComponentListener {
  private listening: Listening[] = [];
  private opening: Promise<void> | undefined;
  private readonly admission = new ConnectionAdmission<ComponentStream>('component', () => ({
    maxConnections: COMPONENT_MAX_CONNECTIONS,
    maxUnauthenticated: COMPONENT_MAX_UNAUTHENTICATED,
  }));

  constructor(private readonly deps: ComponentListenerDeps) {}

  /** The first bound port, 0 while not listening. */
  get port(): number {
    return this.listening[0]?.port ?? 0;
  }

  /** Listen now if an external component is configured and we do not yet; a bind failure throws one clear line. */
  ensure(): Promise<void> {
    if (this.listening.length || this.deps.links.size === 0) return this.opening ?? Promise.resolve();
    this.opening ??= (async () => {
      const config = this.deps.config();
      const interfaces = config.get<string[] | undefined>('component_interfaces') ?? [config.get<string>('component_interface')];
      try {
        this.listening = await listenAll('component', interfaces, config.get<number[]>('component_ports'), (s) => this.accept(s));
      } finally {
        this.opening = undefined;
      }
      for (const l of this.listening) this.deps.log.info(`component listening on ${l.address}:${l.port}`);
    })();
    return this.opening;
  }

  private accept(socket: Socket): void {
    const refused = this.admission.refusal();
    if (refused) {
      const n = this.admission.countRefusal();
      if (n) this.deps.log.warn({ connections: this.admission.size, refused: n }, `component connections refused: ${refused}`);
      return refuseConnection(socket, refused, NS.COMPONENT);
    }
    const config = this.deps.config();
    const stream = new ComponentStream(socket, {
      log: this.deps.log,
      links: this.deps.links,
      // Prosody's component_stanza_size_limit defaults to the s2s limit; Clove uses that limit.
      stanzaSizeLimit: config.get<number>('s2s_stanza_size_limit'),
      authTimeout: config.get<number>('s2s_timeout'),
      route: this.deps.route,
      onAuthenticated: (s) => this.admission.authenticated(s),
    }, (s) => this.admission.removed(s));
    this.admission.added(stream);
  }

  /** Stop listening and close every component stream with `error`. */
  async close(error: StreamError): Promise<void> {
    const closing = this.listening.map((l) => l.close());
    this.listening = [];
    for (const s of this.admission.connections()) s.close(error);
    await Promise.all(closing);
  }
}
