// What an invitee is given: the xmpp: URI (XEP-0401 §5), and the invitation page's URL when the
// host serves it (module invites_page), at the operator's public (I2P) base URL
// (`http_external_url`, src/net/http/url.ts), never a loopback address.
import type { Config } from '../../config/config.js';
import { publicUrl } from '../../net/http/url.js';
import type { Invite } from './invite-store.js';

/** The path of the invitation page; the token follows it. */
export const INVITE_PATH = '/invite';

/** The links of one invitation. */
export interface InviteLinks {
  /** xmpp:…?register;preauth=… or xmpp:user@host?roster;preauth=… */
  uri: string;
  /** The invitation page (`<http_external_url>/invite/<token>`); absent when the host does not serve it. */
  landing?: string;
}

/** The links of `invite` on `host`; `page` tells whether the host serves the invitation page. */
export function inviteLinks(config: Pick<Config, 'get'>, host: string, invite: Pick<Invite, 'token'>, uri: string, page: boolean): InviteLinks {
  return page ? { uri, landing: publicUrl(config, host, `${INVITE_PATH.slice(1)}/${invite.token}`) } : { uri };
}
