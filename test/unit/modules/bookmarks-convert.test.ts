// The two bookmark formats (XEP-0402 items, XEP-0048 <storage/>) converted both ways, and the plan
// that turns a legacy write into publishes and retracts. XML in, XML out.
import { describe, expect, it } from 'vitest';
import { stanza as parseXml } from '../../helpers/stanza.js';
import { NS_BOOKMARKS2, plan, toItem, toLegacyStorage, legacyExtras } from '../../../src/modules/bookmarks/convert.js';

const legacy = (inner: string) => parseXml(`<storage xmlns='storage:bookmarks'>${inner}</storage>`);
const item = (room: string, inner: string, attrs = "name='Room' autojoin='true'") =>
  parseXml(`<item id='${room}'><conference xmlns='${NS_BOOKMARKS2}' ${attrs}>${inner}</conference></item>`);

describe('bookmarks conversion', () => {
  it('turns a legacy conference into a Bookmarks 2 item keyed by the room JID', () => {
    const conf = legacy(`<conference jid='council@conference.x.i2p' name='Council' autojoin='1'><nick>Puck</nick><password>titania</password></conference>`).elements()[0]!;
    expect(toItem(conf).toString()).toBe(
      `<item id="council@conference.x.i2p"><conference xmlns="${NS_BOOKMARKS2}" name="Council" autojoin="true"><nick>Puck</nick><password>titania</password></conference></item>`);
  });

  it('turns Bookmarks 2 items back into one legacy storage, extras after the rooms', () => {
    const out = toLegacyStorage([item('a@c.x', '<nick>N</nick>'), item('b@c.x', '', "autojoin='false'")], legacyExtras(legacy(`<url name='Clove' url='http://clove.i2p/'/>`)));
    expect(out.toString()).toBe(
      '<storage xmlns="storage:bookmarks"><conference jid="a@c.x" name="Room" autojoin="true"><nick>N</nick></conference>'
      + '<conference jid="b@c.x" autojoin="false"/><url name="Clove" url="http://clove.i2p/"/></storage>');
  });

  it('keeps the extensions of an item a legacy client rewrites, and puts foreign children there', () => {
    const previous = item('a@c.x', `<extensions><state xmlns='urn:example:ext'>kept</state></extensions>`);
    const conf = legacy(`<conference jid='a@c.x' name='Renamed'><hint xmlns='urn:example:other'/></conference>`).elements()[0]!;
    const ext = toItem(conf, previous).getChild('conference', NS_BOOKMARKS2)!.getChild('extensions')!;
    expect(ext.elements().map((e) => `${e.xmlns} ${e.local}`)).toEqual(['urn:example:ext state', 'urn:example:other hint']);
  });

  it('plans only what changed: new and changed rooms published, missing rooms retracted', () => {
    const current = [item('same@c.x', '<nick>N</nick>'), item('changed@c.x', ''), item('gone@c.x', '')];
    const p = plan(legacy(
      `<conference jid='same@c.x' name='Room' autojoin='true'><nick>N</nick></conference>`
      + `<conference jid='changed@c.x' name='Room' autojoin='false'/>`
      + `<conference jid='new@c.x'/><conference jid='new@c.x' name='twice'/><conference name='no jid'/>`), current);
    expect(p.publish.map((i) => i.attrs.id)).toEqual(['changed@c.x', 'new@c.x']);
    expect(p.retract).toEqual(['gone@c.x']);
  });
});
