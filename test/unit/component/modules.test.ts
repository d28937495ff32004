// Which modules a Component host loads, and where it appears in disco#items.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/config.js';
import { defineModule, type ModuleDefinition } from '../../../src/core/modules.js';
import { MODULES } from '../../../src/modules/index.js';
import { modulesFor } from '../../../src/component/modules.js';
import { parentOf } from '../../../src/component/parents.js';

const component = defineModule({ name: 'component', setup() {} });
const registry = new Map<string, ModuleDefinition>([...MODULES, ['component', component]]);
const names = (cfg: string, host: string): { load: string[]; warnings: string[]; errors: string[] } => {
  const r = modulesFor(parseConfig(cfg, 'test.cfg.lua'), host, registry);
  return { ...r, load: [...r.load] };
};

describe('component modules', () => {
  const global = 'modules_enabled = { "roster", "vcard", "ping" }\nVirtualHost "example"\n';

  it('an external component gets the component module, federation and darknet routing, not the global modules_enabled', () => {
    expect(names(`${global}Component "gw.example"\n  component_secret = "s"\n`, 'gw.example')).toEqual({ load: ['s2s', 'darknet', 'component'], warnings: [], errors: [] });
  });

  it("adds the section's own modules_enabled, minus its own modules_disabled", () => {
    const r = names(`${global}Component "gw.example"\n  component_secret = "s"\n  modules_enabled = { "ping", "version", "time" }\n  modules_disabled = { "time" }\n`, 'gw.example');
    expect(r.load).toEqual(['s2s', 'darknet', 'component', 'ping', 'version']);
  });

  it('a component module Clove does not have is one error naming the file and line of the section; the host still loads', () => {
    const r = names(`${global}\nComponent "proxy.example" "proxy65"\n`, 'proxy.example');
    expect(r.load).toEqual(['s2s', 'darknet']);
    expect(r.errors).toEqual([`test.cfg.lua:4: Component "proxy.example" "proxy65": module 'proxy65' is not available in Clove yet; the component has no service (stanzas to proxy.example get service-unavailable)`]);
  });

  it('Component "conference.example" "muc" loads the muc module', () => {
    const r = names(`${global}\nComponent "conference.example" "muc"\n`, 'conference.example');
    expect(r).toEqual({ load: ['s2s', 'darknet', 'muc'], warnings: [], errors: [] });
  });

  it('VirtualHosts keep their own rules', () => {
    expect(names(global, 'example').load).toEqual(expect.arrayContaining(['session', 'roster', 'vcard', 'ping']));
  });
});

describe('parentOf', () => {
  it('is the nearest VirtualHost the component is a subdomain of', () => {
    expect(parentOf('conference.example', ['example', 'other'])).toBe('example');
    expect(parentOf('a.b.example', ['example', 'b.example'])).toBe('b.example');
    expect(parentOf('a.b.example', ['example'])).toBe('example');
    expect(parentOf('gw.other', ['example'])).toBeUndefined();
    expect(parentOf('notexample', ['example'])).toBeUndefined();
  });
});
