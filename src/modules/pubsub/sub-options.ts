// Subscription options (XEP-0060 §6.3): what clients set on a subscription. `pubsub#deliver`
// turns a subscriber's notifications off and on; digests and bodies are not offered, so
// `pubsub#digest` and `pubsub#include_body` take false only (as the form says).
// References: XEP-0060 §6.3 (configure subscription options), §16.4.2 (pubsub#subscribe_options).
import type { Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { formElement, FormError, readSubmission } from '../adhoc/dataforms.js';
import { pubsubError } from './engine.js';

/** The stored options of one subscription; absent means the defaults. */
export interface SubOptions { deliver: boolean }

export const SUBSCRIBE_OPTIONS = 'http://jabber.org/protocol/pubsub#subscribe_options';

/** The options form of a subscription (§6.3.5), with the one choice for digest and body. */
export function subOptionsForm(options: SubOptions | undefined): Element {
  return formElement('form', {
    formType: SUBSCRIBE_OPTIONS,
    fields: [
      { var: 'pubsub#deliver', type: 'boolean', label: 'Enable delivery?', values: [options?.deliver === false ? '0' : '1'] },
      { var: 'pubsub#digest', type: 'boolean', label: 'Receive digest notifications (approx. one per day)?', values: ['0'] },
      { var: 'pubsub#include_body', type: 'boolean', label: 'Receive message body in addition to payload?', values: ['0'] },
    ],
  });
}

const bool = (v: readonly string[] | undefined): boolean | undefined => {
  if (v?.length !== 1) return undefined;
  return v[0] === '1' || v[0] === 'true' ? true : v[0] === '0' || v[0] === 'false' ? false : undefined;
};

/** Read a submitted options form; anything unknown, invalid or asking for digests or bodies is bad-request with invalid-options (§6.3.7.2). */
export function readSubOptions(form: Element, current: SubOptions | undefined): SubOptions {
  const invalid = (why: string): Error => pubsubError('bad-request', 'invalid-options', why);
  let sub;
  try {
    sub = readSubmission(form, SUBSCRIBE_OPTIONS);
  } catch (err) {
    if (err instanceof FormError) throw invalid(err.message);
    throw err;
  }
  let deliver = current?.deliver ?? true;
  for (const [name, values] of sub) {
    const v = bool(values);
    if (v === undefined) throw invalid(`${name} must be a boolean`);
    if (name === 'pubsub#deliver') deliver = v;
    else if ((name === 'pubsub#digest' || name === 'pubsub#include_body') && v) throw invalid(`${name} is not offered`);
    else if (name !== 'pubsub#digest' && name !== 'pubsub#include_body') throw invalid(`unknown subscription option '${name}'`);
  }
  return { deliver };
}

/** The `<options/>` of a subscription request or answer, if it carries a form. */
export function optionsFormIn(el: Element | undefined): Element | undefined {
  return el?.getChild('x', NS.DATA_FORMS);
}
