// Hands stanzas for other domains to the federation layer (src/stream/s2s-manager.ts), which
// routes them through the darknet policies, queues, retries and bounces. Loaded on every host,
// as Prosody's s2s is; without an s2s manager (tests), remote stanzas are bounced by the router.
import { defineModule } from '../core/modules.js';

export default defineModule({
  name: 's2s',
  setup(ctx) {
    const remote = ctx.host.remote;
    if (!remote) return;
    ctx.hook('route/remote', async (ev) => {
      await remote.send(ev.stanza, ctx.host.name, ev.to!.domain);
      return true;
    });
  },
});
