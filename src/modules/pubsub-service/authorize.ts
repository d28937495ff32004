// Approving subscriptions to nodes with access model 'authorize': the form the service sends to
// the node's owners for each new pending request, reading an owner's answer, and the message
// that tells a (former, denied or approved) subscriber its new state.
// References: XEP-0060 §8.6 (manage subscription requests), §6.1.2, §4.2 (subscription states),
// §12.x "Notification of Subscription State Changes" (impl-subchange).
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { tryParseJid } from '../../jid/jid.js';
import { StanzaError } from '../../core/errors.js';
import { formElement, FormError, readSubmission, single } from '../adhoc/dataforms.js';

export const SUBSCRIBE_AUTHORIZATION = 'http://jabber.org/protocol/pubsub#subscribe_authorization';

/** The approval request for `subscriber`'s subscription to `node`, as the data form of a message (§8.6, Example 'Service sends authorization request'). */
export function authorizationForm(node: string, subscriber: string): Element {
  return formElement('form', {
    title: 'PubSub subscriber request',
    instructions: "To approve this entity's subscription request, set allow to true and submit; to deny it, submit false; cancel to decide later.",
    formType: SUBSCRIBE_AUTHORIZATION,
    fields: [
      { var: 'pubsub#node', type: 'text-single', label: 'Node ID', values: [node] },
      { var: 'pubsub#subscriber_jid', type: 'jid-single', label: 'Subscriber Address', values: [subscriber] },
      { var: 'pubsub#allow', type: 'boolean', label: 'Allow this JID to subscribe to this pubsub node?', values: ['false'] },
    ],
  });
}

/** The message that asks an owner (`to`) to decide, with a body for clients that show no forms. */
export function authorizationMessage(from: string, to: string, id: string, node: string, subscriber: string): Element {
  return x('message', { from, to, id },
    x('body', null, `${subscriber} asks to subscribe to the node '${node}' of ${from}. Answer the form to approve or deny.`),
    authorizationForm(node, subscriber));
}

/** An owner's answer: which request, and whether it is allowed. */
export interface Decision { node: string; subscriber: string; allow: boolean }

/**
 * The decision in a message, if it carries a subscribe_authorization form: undefined when it
 * carries none, 'cancel' when the owner cancelled (the request stays pending, §8.6). A
 * submission without a node, a JID or a boolean allow is bad-request.
 */
export function readDecision(message: Element): Decision | 'cancel' | undefined {
  const form = message.getChildren('x', NS.DATA_FORMS).find((f) => f.getChildren('field').some((fl) => fl.attrs.var === 'FORM_TYPE' && fl.getChildText('value') === SUBSCRIBE_AUTHORIZATION));
  if (!form) return undefined;
  if (form.attrs.type === 'cancel') return 'cancel';
  let sub;
  try {
    sub = readSubmission(form, SUBSCRIBE_AUTHORIZATION);
  } catch (err) {
    if (err instanceof FormError) throw new StanzaError('bad-request', err.message);
    throw err;
  }
  const node = single(sub, 'pubsub#node');
  const subscriber = tryParseJid(single(sub, 'pubsub#subscriber_jid') ?? '');
  const allow = single(sub, 'pubsub#allow');
  if (!node || !subscriber) throw new StanzaError('bad-request', 'the form names the node and the subscriber');
  if (allow !== '1' && allow !== 'true' && allow !== '0' && allow !== 'false') throw new StanzaError('bad-request', 'pubsub#allow must be a boolean');
  return { node, subscriber: subscriber.toString(), allow: allow === '1' || allow === 'true' };
}

/** The message telling `jid` its subscription to `node` is now `subscription` (§8.6, impl-subchange). */
export function subscriptionChange(from: string, jid: string, id: string, node: string, subscription: 'subscribed' | 'none'): Element {
  return x('message', { from, to: jid, id }, x('event', { xmlns: NS.PUBSUB_EVENT }, x('subscription', { node, jid, subscription })));
}
