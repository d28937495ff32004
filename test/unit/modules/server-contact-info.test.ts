// Contact addresses (XEP-0157) in the host's disco#info, from contact_info or the admins: the
// first real provider of disco's extension forms (XEP-0128). XML in, XML out, no sockets.
import { describe, it, expect } from 'vitest';
import { x, type Element } from '../../../src/xml/element.js';
import { NS } from '../../../src/xml/ns.js';
import { MODULES } from '../../../src/modules/index.js';
import contactInfo from '../../../src/modules/server-contact-info.js';
import { hostWorld } from '../../helpers/host-world.js';

/** The host's disco#info as alice sees it, with server_contact_info loaded from `cfg`. */
async function discoInfo(cfg: string): Promise<Element> {
  const w = hostWorld(`${cfg}\nVirtualHost "localhost"`, '/etc/clove/clove.cfg.lua');
  await w.host.load([contactInfo], MODULES); // disco comes first, as a dependency
  const alice = w.bind('alice@localhost/pc');
  await w.router.fromClient(alice, x('iq', { type: 'get', id: 'i', to: 'localhost' }, x('query', { xmlns: NS.DISCO_INFO })));
  return alice.got[0]!.getChild('query', NS.DISCO_INFO)!;
}

/** The XEP-0157 form's fields as [var, values]. */
const fields = (info: Element): [string | undefined, string[]][] => {
  const form = info.getChildren('x').find((f) => f.xmlns === NS.DATA_FORMS);
  return (form?.getChildren('field') ?? []).map((f) => [f.attrs.var, f.getChildren('value').map((v) => v.text())]);
};

describe('server_contact_info', () => {
  it('publishes contact_info as the serverinfo form, kinds in XEP-0157 order', async () => {
    const info = await discoInfo('contact_info = { support = "xmpp:help@localhost"; abuse = { "mailto:abuse@localhost", "xmpp:abuse@localhost" } }');
    expect(fields(info)).toEqual([
      ['FORM_TYPE', ['http://jabber.org/network/serverinfo']],
      ['abuse-addresses', ['mailto:abuse@localhost', 'xmpp:abuse@localhost']],
      ['support-addresses', ['xmpp:help@localhost']],
    ]);
    // After the identities and features (XEP-0128 §3).
    expect(info.elements().at(-1)?.xmlns).toBe(NS.DATA_FORMS);
  });

  it('publishes the admins when contact_info is unset, and nothing without admins', async () => {
    expect(fields(await discoInfo('admins = { "root@localhost" }'))).toEqual([
      ['FORM_TYPE', ['http://jabber.org/network/serverinfo']],
      ['admin-addresses', ['xmpp:root@localhost']],
    ]);
    expect(fields(await discoInfo(''))).toEqual([]);
  });

  it('refuses an unknown kind or an address that is not a URI with file:line', async () => {
    await expect(discoInfo('\ncontact_info = { boss = { "xmpp:me@localhost" } }')).rejects.toThrow(
      "/etc/clove/clove.cfg.lua:2: contact_info has no kind 'boss' (XEP-0157 has abuse, admin, feedback, sales, security, status, support) (option 'contact_info')");
    await expect(discoInfo('contact_info = { admin = { "me@localhost" } }')).rejects.toThrow(
      "/etc/clove/clove.cfg.lua:1: contact_info.admin must be a list of URIs like { \"mailto:admin@example.org\" } (option 'contact_info')");
  });
});
