// The legacy session iq (RFC 3921 §3): obsolete, but Pidgin always sends it and fails the
// login on any error, so it is answered with an empty result.
import { defineModule } from '../core/modules.js';
import { NS } from '../xml/ns.js';

export default defineModule({
  name: 'session',
  setup(ctx) {
    ctx.iq('set', ['self', 'host'], NS.SESSION, 'session', () => undefined);
  },
});
