// The `component` module of an external component host (Component "x" with component_secret):
// registers the domain with the XEP-0114 listener and hands every stanza addressed to the domain
// or a JID at it to the connected component. While none is connected, stanzas get the error
// Prosody's mod_component sends: remote-server-timeout (type wait, "component unavailable";
// errors and iq results are dropped). Unloading (reload, shutdown) closes the connection.
// References: XEP-0114.
import { defineModule, type ModuleDefinition } from '../core/modules.js';
import { StanzaError, StreamError } from '../core/errors.js';
import type { StanzaEvent } from '../core/events-map.js';
import { Priority } from '../core/events.js';
import type { ComponentLinks } from './links.js';

const KINDS = ['message', 'presence', 'iq'] as const;
const TARGETS = ['host', 'bare', 'full'] as const;
/** Below any handler another module of the section may add (Prosody hooks these just below 0). */
const PRIORITY = Priority.late;

/** The module for external components of this server, sharing `links` with the listener. */
export function externalComponentModule(links: ComponentLinks): ModuleDefinition {
  return defineModule({
    name: 'component',
    setup(ctx) {
      const domain = ctx.host.name;
      const secret = (): string | undefined => ctx.host.config.get<string | undefined>('component_secret', domain);
      links.register(domain, { secret });
      if (secret() === undefined) ctx.log.warn(`Component "${domain}" has no component_secret: every connection for it will be refused (not-authorized)`);
      const forward = (ev: StanzaEvent): true => {
        const session = links.session(domain);
        if (session) {
          session.send(ev.stanza);
          return true;
        }
        const type = ev.stanza.attrs.type;
        if (type === 'error' || type === 'result') return true;
        ctx.log.debug({ stanza: ev.stanza.name }, 'component not connected; bouncing');
        throw new StanzaError('remote-server-timeout', 'component unavailable');
      };
      for (const kind of KINDS) for (const target of TARGETS) ctx.hook(`${kind}/${target}`, forward, PRIORITY);
      return () => links.unregister(domain, new StreamError('host-gone', `${domain} is no longer served here`));
    },
  });
}
