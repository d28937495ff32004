// An internal component (Component "conference.localhost" "test_component") on an in-process
// server: stanzas to its domain and to JIDs at it (room@…, room@…/nick) reach its module, it
// answers through ctx.send, and the parent host lists it in disco#items. Clove has no real
// component module yet, so the test registers one (test/helpers/test-component.ts) through
// startServer's extraModules seam.
// A component whose module Clove does not have stays routable (never sent to federation) and
// answers service-unavailable.
import { describe, expect, it } from 'vitest';
import { serverSuite } from '../helpers/server-suite.js';
import { Wire, match } from '../helpers/wire.js';
import { testComponent } from '../helpers/test-component.js';

const { module: component, seen } = testComponent();

const t = serverSuite('alice-pw', {
  hosts: 'VirtualHost "localhost"\nComponent "conference.localhost" "test_component"\n  name = "Chatrooms"\nComponent "proxy.localhost" "proxy65"\n',
  extraModules: [component],
});

describe('an internal component', () => {
  it('gets messages to its domain, to a bare JID and to a full JID at it, and answers', async () => {
    const client = await t.user('alice');
    for (const [to, target] of [['conference.localhost', 'host'], ['room@conference.localhost', 'bare'], ['room@conference.localhost/nick', 'full']] as const) {
      client.send(`<message to='${to}' type='chat'><body>hi</body></message>`);
      const answer = await client.waitFor(match('message', { from: to }));
      expect(answer.getChildText('body')).toBe(`component got ${target}`);
      expect(seen).toContain(`${target} ${to}`);
    }
  });

  it('answers iqs to its domain and to JIDs at it through its module', async () => {
    const client = await t.user('alice');
    for (const to of ['conference.localhost', 'room@conference.localhost']) {
      const r = await client.iq(`<iq type='get' to='${to}'><ping xmlns='urn:xmpp:ping'/></iq>`);
      expect(r.attrs.type).toBe('result');
      expect(seen).toContain(`iq ${to}`);
    }
  });

  it("is listed in its parent host's disco#items with its name", async () => {
    const client = await t.user('alice');
    const r = await client.iq(`<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`);
    const items = r.getChild('query')?.getChildren('item').map((i) => `${i.attrs.jid} ${i.attrs.name ?? ''}`.trim());
    expect(items).toEqual(expect.arrayContaining(['conference.localhost Chatrooms', 'proxy.localhost']));
  });

  it('has no accounts: a client cannot log in to it', async () => {
    await expect(Wire.login({ port: t.srv.port, domain: 'conference.localhost', username: await t.account('alice'), password: 'alice-pw' })).rejects.toThrow(/host-unknown/);
  });

  it('stays local without its module: stanzas to it get service-unavailable, never federation', async () => {
    const client = await t.user('alice');
    const r = await client.iq(`<iq type='get' to='room@proxy.localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    expect(r.attrs.type).toBe('error');
    expect(r.getChild('error')?.elements()[0]?.name).toBe('service-unavailable');
  });
});
