// What an invitee is given: the xmpp: URI (XEP-0401 §5), and the invitation page's URL once
// the host serves HTTP.
import type { Config } from '../../config/config.js';
import type { Invite } from './invite-store.js';

/** The links of one invitation. */
export interface InviteLinks {
  /** xmpp:…?register;preauth=… or xmpp:user@host?roster;preauth=… */
  uri: string;
  /** The invitation page, at the operator's external (I2P) URL; absent without HTTP. */
  landing?: string;
}

/** The links of `invite` on `host`. */
export function inviteLinks(_config: Config, _host: string, _invite: Pick<Invite, 'token'>, uri: string): InviteLinks {
  return { uri };
}
