// The catalog names every module and imports its code only when asked (src/modules/catalog.ts).
import { describe, expect, it } from 'vitest';
import { MODULE_IMPORTS } from '../../../src/modules/catalog.js';
import { resolveModules } from '../../../src/modules/resolve.js';
import { parseConfig } from '../../../src/config/config.js';

describe('the module catalog', () => {
  it('imports, for each name, the module of that name, whose dependencies are in the catalog too', async () => {
    for (const [name, load] of MODULE_IMPORTS) {
      const def = await load();
      expect(def.name).toBe(name);
      for (const dep of def.depends ?? []) expect(MODULE_IMPORTS.has(dep), `${name} needs ${dep}`).toBe(true);
    }
  });

  it('resolves a config to names and warns about a name it does not have', () => {
    const config = parseConfig('modules_enabled = { "roster"; "muc_hats_api"; "uptime" }\nVirtualHost "a.example"\n', '/c.lua');
    const { load, warnings } = resolveModules(config, 'a.example');
    expect(load).toEqual(['session', 'message', 'presence', 's2s', 'offline', 'darknet', 'roster', 'uptime']);
    expect(warnings).toEqual(["/c.lua:1: module 'muc_hats_api' is not available in Clove yet; ignored (option 'modules_enabled')"]);
  });
});
