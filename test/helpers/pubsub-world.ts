// A pubsub component (Component "pubsub.localhost" "pubsub") beside VirtualHost "localhost" in a
// HostWorld (no sockets), with admin@localhost as admin, and an iq helper that waits for the reply:
// what the pubsub component's unit tests share.
import { x, type Element } from '../../src/xml/element.js';
import { NS } from '../../src/xml/ns.js';
import { MODULES } from '../../src/modules/index.js';
import { hostWorld, type FakeSession, type HostWorld } from './host-world.js';

export const PS = 'pubsub.localhost';

/** The world, with `options` appended to the component's section. */
export async function pubsubWorld(options = ''): Promise<HostWorld> {
  const w = hostWorld(`admins = { "admin@localhost" }\nVirtualHost "localhost"\nComponent "${PS}" "pubsub"\n${options}`);
  await w.host.load([MODULES.get('message')!], MODULES);
  await w.addHost(PS).load([MODULES.get('pubsub')!], MODULES);
  return w;
}

/** Send an iq of `type` with `payload` to the service from `s`, and resolve with its reply. */
export async function pubsubIq(w: HostWorld, s: FakeSession, type: 'get' | 'set', payload: Element): Promise<Element> {
  const id = `q${Math.random()}`;
  await w.router.fromClient(s, x('iq', { type, id, to: PS }, payload));
  for (let i = 0; i < 100 && !s.got.some((e) => e.attrs.id === id); i++) await new Promise((r) => setTimeout(r, 2));
  const reply = s.got.find((e) => e.name === 'iq' && e.attrs.id === id);
  if (!reply) throw new Error('no reply');
  return reply;
}

/** <pubsub/> and <pubsub xmlns='…#owner'/> with children. */
export const ps = (...c: Element[]): Element => x('pubsub', { xmlns: NS.PUBSUB }, ...c);
export const owner = (...c: Element[]): Element => x('pubsub', { xmlns: NS.PUBSUB_OWNER }, ...c);
