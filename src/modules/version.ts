// Software version of the server. References: XEP-0092.
// A server on I2P should not help anyone tell who runs it or set it apart from other servers.
// Users of this server's hosts get Clove's name and version. Entities of other domains get what
// `version_to_remote` says: by default the name alone (no version, which would tell one Clove
// from another), or nothing at all ("none": service-unavailable). The operating system is left
// out unless `hide_os_type = false` (the OS, let alone its kernel release, which Prosody sends,
// narrows things down); even then only the OS name goes out, and only to local users.
import { readFile } from 'node:fs/promises';
import { type as osType } from 'node:os';
import { x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { defineModule } from '../core/modules.js';
import { StanzaError } from '../core/errors.js';

/** Clove's version from package.json (src/modules and dist/modules are both two levels down). */
async function cloveVersion(): Promise<string | undefined> {
  try {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

export default defineModule({
  name: 'version',
  async setup(ctx) {
    // Both apply live on a reload.
    const hideOs = ctx.option.live.boolean('hide_os_type', true);
    const remoteSees = ctx.option.live.string('version_to_remote', 'name');
    const version = await cloveVersion();
    if (version === undefined) ctx.log.warn('package.json has no readable version; software version replies say "unknown"');
    const host = ctx.host;
    ctx.feature(NS.VERSION);
    ctx.iq('get', 'host', NS.VERSION, 'query', (ev) => {
      const local = ev.from !== undefined && host.isLocal(ev.from.domain);
      const toRemote = remoteSees();
      const showOs = !hideOs();
      if (!local && toRemote === 'none') throw new StanzaError('service-unavailable');
      // XEP-0092 requires <version/>; an empty one says nothing.
      const shown = local || toRemote === 'version' ? version ?? 'unknown' : '';
      return x('query', { xmlns: NS.VERSION }, x('name', null, 'Clove'), x('version', null, shown), local && showOs && x('os', null, osType()));
    });
  },
});
