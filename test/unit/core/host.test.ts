// Host module life cycle: per-module unload takes its hooks, cleanup and provided items with it;
// reconcile() (a config reload) unloads what is no longer wanted but keeps what a wanted module
// depends on, and loads what is missing.
import { describe, it, expect } from 'vitest';
import type { Host } from '../../../src/core/host.js';
import { defineModule, type ModuleDefinition } from '../../../src/core/modules.js';
import { hostWorld } from '../../helpers/host-world.js';

const makeHost = (): Host => hostWorld().host;

const events: string[] = [];
const mod = (name: string, depends: string[] = []): ModuleDefinition => defineModule({
  name,
  depends,
  setup(ctx) {
    events.push(`load ${name}`);
    ctx.feature(`urn:test:${name}`);
    ctx.provide('disco-item', { jid: `${name}.example` });
    ctx.hook('server-started', () => { events.push(`started seen by ${name}`); });
    return () => { events.push(`cleanup ${name}`); };
  },
});

describe('Host modules', () => {
  it('unloadModule removes hooks, features and provided items of that module only', async () => {
    events.length = 0;
    const host = makeHost();
    const a = mod('a');
    const b = mod('b');
    await host.load([a, b], new Map([[a.name, a], [b.name, b]]));
    expect(host.items('feature')).toEqual(['urn:test:a', 'urn:test:b']);
    await host.unloadModule('a');
    expect(events).toContain('cleanup a');
    expect([...host.loaded]).toEqual(['b']);
    expect(host.items('feature')).toEqual(['urn:test:b']);
    expect(host.items('disco-item')).toEqual([{ jid: 'b.example' }]);
    events.length = 0;
    await host.events.fire('server-started', { hosts: ['localhost'] });
    expect(events).toEqual(['started seen by b']);
  });

  it('reconcile keeps dependencies of wanted modules, unloads the rest, loads what is new', async () => {
    events.length = 0;
    const base = mod('base');
    const user = mod('user', ['base']);
    const old = mod('old');
    const fresh = mod('fresh');
    const registry = new Map([base, user, old, fresh].map((m) => [m.name, m] as const));
    const host = makeHost();
    await host.load([user, old], registry);
    expect([...host.loaded]).toEqual(['base', 'user', 'old']);
    events.length = 0;
    const { loaded, unloaded } = await host.reconcile([user, fresh], registry);
    expect(unloaded).toEqual(['old']);
    expect(loaded).toEqual(['fresh']);
    expect(events).toEqual(['cleanup old', 'load fresh']);
    expect([...host.items('feature')].sort()).toEqual(['urn:test:base', 'urn:test:fresh', 'urn:test:user']);
    // Nothing changes: nothing is touched.
    events.length = 0;
    expect(await host.reconcile([user, fresh], registry)).toEqual({ unloaded: [], loaded: [] });
    expect(events).toEqual([]);
  });

  it('a module whose setup throws leaves nothing behind', async () => {
    const host = makeHost();
    const broken = defineModule({
      name: 'broken',
      setup(ctx) {
        ctx.feature('urn:test:broken');
        ctx.hook('server-started', () => undefined);
        throw new Error('bad option');
      },
    });
    await expect(host.load([broken], new Map())).rejects.toThrow('bad option');
    expect([...host.loaded]).toEqual([]);
    expect(host.items('feature')).toEqual([]);
    expect(host.events.has('server-started')).toBe(false);
  });
});
