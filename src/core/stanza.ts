// Reply builders shared by the router and the stream layer: the one place an iq result is made.
import { Element } from '../xml/element.js';

/** The `<iq type="result">` answering `req`, with an optional payload. */
export function iqResult(req: Element, payload?: Element): Element {
  const reply = new Element('iq', { type: 'result' });
  if (req.attrs.id !== undefined) reply.attrs.id = req.attrs.id;
  if (req.attrs.from !== undefined) reply.attrs.to = req.attrs.from;
  if (req.attrs.to !== undefined) reply.attrs.from = req.attrs.to;
  if (payload) reply.children.push(payload);
  return reply;
}
