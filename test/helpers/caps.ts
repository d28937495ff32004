// A raw client showing entity capabilities (XEP-0115) as a real one does: available presence
// with a verified sha-1 `ver`, then the answer to each server's disco#info query for it.
import { capsVer } from '../../src/modules/caps/caps-hash.js';
import { x, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { match, type Wire } from './wire.js';

/** A client's disco#info: one identity named `name`, disco#info, and `features`. */
export function clientInfo(name: string, ...features: string[]): Element {
  return x('query', { xmlns: NS.DISCO_INFO }, x('identity', { category: 'client', type: 'phone', name }),
    x('feature', { var: NS.DISCO_INFO }), ...features.map((f) => x('feature', { var: f })));
}

/**
 * Send available presence with the caps of `info`, then answer the disco#info query each JID in
 * `askers` sends about them (one query from anyone when `askers` is empty). Needs `ping` loaded.
 */
export async function showCaps(c: Wire, info: Element, askers: readonly string[] = [], timeoutMs?: number): Promise<void> {
  c.send(`<presence><c xmlns='${NS.CAPS}' hash='sha-1' node='https://wire.test' ver='${capsVer(info)}'/></presence>`);
  for (const from of askers.length ? askers : [undefined]) {
    const ask = await c.waitFor(match('iq', { type: 'get', ...(from ? { from } : {}) }, (el) => el.getChild('query', NS.DISCO_INFO) !== undefined), timeoutMs);
    const answer = info.clone();
    answer.attrs.node = ask.getChild('query', NS.DISCO_INFO)!.attrs.node!;
    c.send(`<iq type='result' id='${ask.attrs.id}' to='${ask.attrs.from}'>${answer.toString()}</iq>`);
  }
  // A round trip to its own server: the answers before it were handled there.
  await c.iq(`<iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`, timeoutMs);
}
