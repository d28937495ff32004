// XMPP Ping. References: XEP-0199.
// Clients ping the server with no `to` (Pidgin, every 60 s), with the domain, or their own bare JID.
import { defineModule } from '../core/modules.js';
import { NS } from '../xml/ns.js';

export default defineModule({
  name: 'ping',
  setup(ctx) {
    ctx.feature(NS.PING);
    ctx.iq('get', ['host', 'self'], NS.PING, 'ping', () => undefined);
  },
});
