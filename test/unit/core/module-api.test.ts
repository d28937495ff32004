// The module API (src/core/modules.ts): typed provide/items kinds, iq handlers that decline,
// named priorities, the narrow host, and option reads checked again on a reload. A real Host
// and Router, XML in and XML out; sessions are recording fakes (no sockets).
import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { parseConfig, type Config } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/config/errors.js';
import { x, type Element } from '../../../src/xml/element.js';
import { NS } from '../../../src/xml/ns.js';
import { Priority, type PriorityLevel } from '../../../src/core/events.js';
import { DECLINE, defineModule, type ModuleContext, type ModuleDefinition } from '../../../src/core/modules.js';
import type { DiscoItem } from '../../../src/core/items-map.js';
import { ArchiveQuotaError, type ArchiveStore } from '../../../src/storage/store.js';
import { hostWorld, type FakeSession, type HostWorld } from '../../helpers/host-world.js';
import disco from '../../../src/modules/disco.js';
import message from '../../../src/modules/message.js';

const world = (cfg = 'VirtualHost "localhost"'): HostWorld => hostWorld(cfg, '/etc/clove/clove.cfg.lua');

async function load(w: HostWorld, ...defs: ModuleDefinition[]): Promise<void> {
  await w.host.load(defs, new Map(defs.map((d) => [d.name, d])));
}

/** Send an iq from `s` and return what came back. */
async function ask(w: HostWorld, s: FakeSession, to: string, payload: Element): Promise<Element> {
  const before = s.got.length;
  await w.router.fromClient(s, x('iq', { type: 'get', id: `q${before}`, to }, payload));
  expect(s.got.length).toBe(before + 1);
  return s.got[before] as Element;
}

/** A module whose setup is `fn`. */
const mod = (name: string, fn: (ctx: ModuleContext) => void): ModuleDefinition => defineModule({ name, setup: fn });

describe('iq handlers that decline', () => {
  it('passes an iq the first handler declines to the next one, which answers', async () => {
    const w = world();
    const seen: string[] = [];
    await load(w,
      mod('first', (ctx) => ctx.iq('get', 'host', 'urn:test', 'q', (ev) => {
        seen.push('first');
        return ev.stanza.getChild('q')?.attrs.node === 'mine' ? x('q', { xmlns: 'urn:test', by: 'first' }) : DECLINE;
      })),
      // Asynchronous declines chain the same way.
      mod('second', (ctx) => ctx.iq('get', 'host', 'urn:test', 'q', async () => {
        seen.push('second');
        return x('q', { xmlns: 'urn:test', by: 'second' });
      })),
    );
    const alice = w.bind('alice@localhost/pc');
    const other = await ask(w, alice, 'localhost', x('q', { xmlns: 'urn:test', node: 'other' }));
    expect(other.attrs.type).toBe('result');
    expect(other.getChild('q')?.attrs.by).toBe('second');
    expect(seen).toEqual(['first', 'second']);
    seen.length = 0;
    const mine = await ask(w, alice, 'localhost', x('q', { xmlns: 'urn:test', node: 'mine' }));
    expect(mine.getChild('q')?.attrs.by).toBe('first');
    expect(seen).toEqual(['first']);
  });

  it('gives an iq every handler declines the usual service-unavailable', async () => {
    const w = world();
    await load(w,
      mod('first', (ctx) => ctx.iq('get', 'host', 'urn:test', 'q', () => DECLINE)),
      mod('second', (ctx) => ctx.iq('get', 'host', 'urn:test', 'q', async () => DECLINE)),
    );
    const alice = w.bind('alice@localhost/pc');
    const reply = await ask(w, alice, 'localhost', x('q', { xmlns: 'urn:test' }));
    expect(reply.attrs.type).toBe('error');
    expect(reply.getChild('error')?.getChild('service-unavailable')).toBeDefined();
  });

  it('runs a handler with a higher priority first, whatever the load order', async () => {
    const w = world();
    await load(w,
      mod('general', (ctx) => ctx.iq('get', 'host', 'urn:test', 'q', () => x('q', { xmlns: 'urn:test', by: 'general' }))),
      mod('special', (ctx) => ctx.iq('get', 'host', 'urn:test', 'q', () => x('q', { xmlns: 'urn:test', by: 'special' }), Priority.early)),
    );
    const reply = await ask(w, w.bind('alice@localhost/pc'), 'localhost', x('q', { xmlns: 'urn:test' }));
    expect(reply.getChild('q')?.attrs.by).toBe('special');
  });
});

describe('named priorities', () => {
  it('run policy, hold, archive, early, normal, late, fallback, last, whatever the hook order', async () => {
    const w = world();
    const order: string[] = [];
    const names = Object.keys(Priority) as (keyof typeof Priority)[];
    const shuffled = [...names].reverse().sort((a, b) => (a.length % 3) - (b.length % 3));
    await load(w, mod('all', (ctx) => {
      for (const name of shuffled) ctx.hook('server-started', () => { order.push(name); }, Priority[name]);
    }));
    await w.host.events.fire('server-started', { hosts: ['localhost'] });
    expect(order).toEqual(['policy', 'hold', 'archive', 'early', 'normal', 'late', 'fallback', 'last']);
  });

  it('default to normal, and equal priorities keep load order', async () => {
    const w = world();
    const order: string[] = [];
    await load(w,
      mod('a', (ctx) => ctx.hook('server-started', () => { order.push('a normal'); })),
      mod('b', (ctx) => {
        ctx.hook('server-started', () => { order.push('b late'); }, Priority.late);
        ctx.hook('server-started', () => { order.push('b normal'); }, Priority.normal);
      }),
    );
    await w.host.events.fire('server-started', { hosts: ['localhost'] });
    expect(order).toEqual(['a normal', 'b normal', 'b late']);
  });

  it('are the only priorities a module can give', () => {
    const levels: PriorityLevel[] = Object.values(Priority);
    expect(new Set(levels).size).toBe(levels.length);
    // @ts-expect-error a bare number is not a named priority
    const bare: PriorityLevel = 42;
    expect(levels).not.toContain(bare);
  });
});

describe('stores by name and shape', () => {
  it('opens an archive of the host: a module appends per owner and pages back, each host and store apart', async () => {
    const w = world();
    let archive: ArchiveStore | undefined;
    let other: ArchiveStore | undefined;
    await load(w, mod('history', (ctx) => {
      archive = ctx.store('history', 'archive', { maxItems: 3 });
      other = ctx.store('other', 'archive');
    }));
    if (!archive || !other) throw new Error('the module did not open its archives');
    const ids = [];
    for (const n of [1, 2, 3]) ids.push(await archive.append('alice', { with: `bob@localhost/r${n}`, payload: `<message id='m${n}'/>` }));
    await expect(archive.append('alice', { with: 'bob@localhost', payload: '<message/>' })).rejects.toThrow(ArchiveQuotaError);
    const page = await archive.query('alice', { with: 'bob@localhost', before: ids[2], limit: 1 });
    expect(page.items.map((i) => i.payload)).toEqual(["<message id='m2'/>"]);
    expect((await other.query('alice')).count).toBe(0);
  });
});

describe('typed provide/items kinds', () => {
  it('carries each kind with its item type, and withdraws a module\'s items when it unloads', async () => {
    const w = world();
    let seen: readonly DiscoItem[] = [];
    await load(w,
      mod('offer', (ctx) => {
        ctx.provide('disco-item', { jid: 'rooms.localhost', name: 'Rooms' });
        ctx.provide('account-feature', 'urn:test:account');
        // @ts-expect-error a kind nobody declared in core/items-map.ts
        ctx.provide('no-such-kind', 'x');
        // @ts-expect-error the item does not have the kind's type
        ctx.provide('feature', { var: 'urn:test' });
      }),
      mod('read', (ctx) => { seen = ctx.items('disco-item'); }),
    );
    expect(seen).toEqual([{ jid: 'rooms.localhost', name: 'Rooms' }]);
    expect(w.host.items('account-feature')).toEqual(['urn:test:account']);
    await w.host.unloadModule('offer');
    expect(w.host.items('disco-item')).toEqual([]);
  });

  it('make an undeclared kind, a wrong item type, a bare priority, an iq to full JIDs and a reach for the router or the session table compile errors', async () => {
    // The compiler is the check: a module source using the API wrongly must not type-check.
    const dir = await mkdtemp(join(tmpdir(), 'clove-api-'));
    try {
      const modules = fileURLToPath(new URL('../../../src/core/modules.ts', import.meta.url)).replace(/\.ts$/, '.js');
      const file = join(dir, 'bad-module.mts');
      await writeFile(file, [
        `import { defineModule } from ${JSON.stringify(modules)};`,
        'export default defineModule({ name: "bad", setup(ctx) {',
        '  ctx.provide("no-such-kind", 1);',
        '  ctx.provide("disco-item", "not a DiscoItem");',
        '  const n: number = ctx.items("feature")[0]!;',
        '  void ctx.host.router;',
        '  ctx.hook("server-started", () => undefined, 5);',
        '  ctx.host.sessions.add(ctx.host.sessions.all()[0]!);',
        '  ctx.iq("get", "full", "urn:test", "q", () => undefined);',
        '} });',
      ].join('\n'));
      const program = ts.createProgram([file], {
        strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, types: [],
      });
      const lines = ts.getPreEmitDiagnostics(program)
        .filter((d) => d.file?.fileName === file)
        .map((d) => d.file!.getLineAndCharacterOfPosition(d.start ?? 0).line + 1);
      expect([...new Set(lines)].sort()).toEqual([3, 4, 5, 6, 7, 8, 9]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 20_000);
});

describe('disco reads what modules provide', () => {
  it('lists extension forms (XEP-0128), account features, provided items and disco_items', async () => {
    const w = world('disco_items = { { "proxy.localhost", "Proxy" }, { "upload.localhost" } }\nVirtualHost "localhost"');
    const form = x('x', { xmlns: NS.DATA_FORMS, type: 'result' }, x('field', { var: 'FORM_TYPE', type: 'hidden' }, x('value', null, 'urn:test:info')));
    await load(w, disco, mod('pep-like', (ctx) => {
      ctx.provide('extension', form);
      ctx.provide('account-feature', 'urn:test:account');
      ctx.provide('disco-item', { jid: 'rooms.localhost', name: 'Rooms' });
    }));
    await w.accounts.create('alice', 'pw');
    const alice = w.bind('alice@localhost/pc');
    const info = (await ask(w, alice, 'localhost', x('query', { xmlns: NS.DISCO_INFO }))).getChild('query', NS.DISCO_INFO)!;
    expect(info.elements().at(-1)?.toString()).toBe(form.toString());
    const items = (await ask(w, alice, 'localhost', x('query', { xmlns: NS.DISCO_ITEMS }))).getChild('query', NS.DISCO_ITEMS)!;
    expect(items.getChildren('item').map((i) => [i.attrs.jid, i.attrs.name])).toEqual([
      ['proxy.localhost', 'Proxy'], ['upload.localhost', undefined], ['rooms.localhost', 'Rooms'],
    ]);
    const account = (await ask(w, alice, 'alice@localhost', x('query', { xmlns: NS.DISCO_INFO }))).getChild('query', NS.DISCO_INFO)!;
    expect(account.getChildren('feature').map((f) => f.attrs.var)).toEqual(['urn:test:account']);
  });

  it('refuses a malformed disco_items entry with file:line', async () => {
    const w = world('\ndisco_items = { { "ok.localhost" }, { 42 } }\nVirtualHost "localhost"');
    await expect(load(w, disco)).rejects.toThrow("/etc/clove/clove.cfg.lua:2: disco_items entry 2 must be { \"jid\" } or { \"jid\", \"name\" } (option 'disco_items')");
  });
});

describe('the narrow host', () => {
  it('offers no router, routes through ctx.send and ctx.sendAs, and sessions read-only', async () => {
    const w = world();
    let ctx: ModuleContext | undefined;
    await load(w, message, mod('probe', (c) => { ctx = c; }));
    const c = ctx as ModuleContext;
    expect('router' in c.host).toBe(false);
    const alice = w.bind('alice@localhost/pc');
    const bob = w.bind('bob@localhost/pc');
    await c.send(x('message', { from: 'alice@localhost/pc', to: 'bob@localhost/pc', type: 'headline' }, x('subject', null, 'as the server')));
    expect(bob.got.at(-1)?.attrs.from).toBe('alice@localhost/pc');
    // As if alice's client sent it: `from` is stamped with her full JID, and a foreign one refused.
    await c.sendAs(alice, x('iq', { type: 'get', id: 'p', to: 'localhost' }, x('ping', { xmlns: NS.PING })));
    expect(alice.got.at(-1)?.attrs.type).toBe('error'); // no ping module loaded: service-unavailable, to her
    await expect(c.sendAs(alice, x('message', { from: 'mallory@localhost', to: 'bob@localhost' }))).rejects.toThrow(/not this session/);
  });
});

describe('options checked again on reload', () => {
  const reader = (seen: { fixed?: number; live?: () => number; admins?: () => string[] }): ModuleDefinition => mod('reader', (ctx) => {
    // Options the schema does not know, so only the module's own bounds check them.
    seen.fixed = ctx.option.number('test_count', 500, { min: 1, integer: true });
    seen.live = ctx.option.live.number('test_limit', 300, { min: 1, max: 86400 });
    seen.admins = ctx.option.live.custom((config) => config.get<string[]>('admins', 'localhost').map((a) => {
      if (!a.includes('@')) throw new ConfigError(config.file, config.lineOf('admins') ?? 0, `'${a}' is not a user's bare JID`, 'admins');
      return a;
    }));
  });
  const next = (text: string): Config => parseConfig(`${text}\nVirtualHost "localhost"`, '/etc/clove/next.cfg.lua');

  it('refuses a bad bound or a failed custom check with file, line and option, and changes nothing', async () => {
    const w = world('test_limit = 60\nVirtualHost "localhost"');
    const seen: Parameters<typeof reader>[0] = {};
    await load(w, reader(seen));
    expect(() => w.host.checkOptions(next('\n\ntest_limit = 0'))).toThrow(
      "/etc/clove/next.cfg.lua:3: option 'test_limit' must be between 1 and 86400, got 0");
    expect(() => w.host.checkOptions(next('test_count = 2.5'))).toThrow(
      "/etc/clove/next.cfg.lua:1: expected a whole number for option 'test_count', got number 2.5");
    expect(() => w.host.checkOptions(next('admins = { "nobody" }'))).toThrow(
      "/etc/clove/next.cfg.lua:1: 'nobody' is not a user's bare JID (option 'admins')");
    expect(seen.live?.()).toBe(60);
  });

  it('gives live options their new value once the config is in force; the others keep theirs', async () => {
    const w = world('VirtualHost "localhost"');
    const seen: Parameters<typeof reader>[0] = {};
    await load(w, reader(seen));
    const good = next('test_limit = 30\ntest_count = 10\nadmins = { "root@localhost" }');
    w.host.checkOptions(good);
    expect(seen.live?.()).toBe(300); // checking applies nothing
    w.host.reconfigure(good);
    expect(seen.live?.()).toBe(30);
    expect(seen.admins?.()).toEqual(['root@localhost']);
    expect(seen.fixed).toBe(500);
    // Unloaded modules are not checked any more.
    await w.host.unloadModule('reader');
    expect(() => w.host.checkOptions(next('test_limit = 0'))).not.toThrow();
  });
});
