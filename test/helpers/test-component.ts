// A component module for tests (Clove ships no test module in src/): it answers every message to
// its domain or a JID at it with "component got <target>" from the address the message was sent
// to, answers pings, and records what it saw. Loaded with startServer's extraModules seam for
// `Component "x" "test_component"`.
import { defineModule, type ModuleDefinition } from '../../src/core/modules.js';
import { x } from '../../src/xml/element.js';
import type { Target } from '../../src/core/events-map.js';

/** A fresh test component module and the list of `target to` lines it records. */
export function testComponent(): { module: ModuleDefinition; seen: string[] } {
  const seen: string[] = [];
  const module = defineModule({
    name: 'test_component',
    setup(ctx) {
      for (const target of ['host', 'bare', 'full'] as const satisfies readonly Target[]) {
        ctx.hook(`message/${target}`, (ev) => {
          seen.push(`${target} ${ev.stanza.attrs.to}`);
          ctx.send(x('message', { from: ev.stanza.attrs.to, to: ev.stanza.attrs.from, type: 'chat' }, x('body', null, `component got ${target}`)));
          return true;
        });
      }
      ctx.iq('get', ['host', 'bare'], 'urn:xmpp:ping', 'ping', (ev) => { seen.push(`iq ${ev.stanza.attrs.to}`); });
    },
  });
  return { module, seen };
}
