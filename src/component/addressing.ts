// What an external component may put in `from` and `to` (XEP-0114 §3, Prosody's
// validate_from_addresses): `from` must be its own domain or a JID at it, `to` must be present.
import { tryParseJid } from '../jid/jid.js';

/** Why a stanza from the component `domain` has an unacceptable `from`, or undefined when it is fine. */
export function fromProblem(from: string | undefined, domain: string): string | undefined {
  if (from === undefined) return `a component must say who a stanza is from (a JID at ${domain})`;
  const jid = tryParseJid(from);
  if (!jid) return `'${from.slice(0, 100)}' is not a valid JID`;
  if (jid.domain !== domain) return `${jid.domain} is not this component's domain (${domain})`;
  return undefined;
}

/** Why a stanza from a component has no usable `to`, or undefined. */
export function toProblem(to: string | undefined): string | undefined {
  return to === undefined ? "components must give stanzas a 'to' address" : undefined;
}
