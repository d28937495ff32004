// Software version of the server. References: XEP-0092.
// The reply names Clove and its version. The operating system is left out unless
// `hide_os_type = false`: a server on I2P should not help anyone tell who runs it, and the OS
// (let alone its kernel release, which Prosody sends) narrows that down. Even when shown, only
// the OS name goes out.
import { readFile } from 'node:fs/promises';
import { type as osType } from 'node:os';
import { x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { defineModule } from '../core/modules.js';

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
    const showOs = !ctx.option.boolean('hide_os_type', true);
    const version = await cloveVersion();
    if (version === undefined) ctx.log.warn('package.json has no readable version; software version replies say "unknown"');
    ctx.feature(NS.VERSION);
    ctx.iq('get', 'host', NS.VERSION, 'query', () =>
      x('query', { xmlns: NS.VERSION }, x('name', null, 'Clove'), x('version', null, version ?? 'unknown'), showOs && x('os', null, osType())));
  },
});
