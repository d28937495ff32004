// Server uptime as last activity of the server. References: XEP-0012 §4 (querying a server).
//
// Off by default (not in DEFAULT_ENABLED; enable with modules_enabled = { …; "uptime" }), and
// it is so for privacy: the answer tells anyone who asks the exact moment the server last
// started. On I2P the b32 address hides where a server runs, but a restart is an event that
// can be seen elsewhere too — the host machine rebooting, an i2pd router leaving and rejoining
// the network, a clearnet service on the same machine going down at the same second. Matching
// those moments ties the hidden server to the rest. Prosody loads mod_uptime by default; Clove
// does not.
import { x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { defineModule } from '../core/modules.js';

export default defineModule({
  name: 'uptime',
  setup(ctx) {
    // Monotonic: a clock change on the host does not change the uptime.
    const started = performance.now();
    ctx.feature(NS.LAST);
    ctx.iq('get', 'host', NS.LAST, 'query', () =>
      x('query', { xmlns: NS.LAST, seconds: String(Math.floor((performance.now() - started) / 1000)) }));
  },
});
