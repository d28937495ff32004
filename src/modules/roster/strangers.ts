// Who may learn that an account exists and how it is doing. Anyone on I2P can ask, anonymously
// and as often as they like, so a stranger must get the same answers for an account that exists
// and one that does not. Like Prosody's mod_disco (rostermanager.is_contact_subscribed), the
// ones who may know are the account itself and the contacts it shares its presence with.
import type { Jid } from '../../jid/jid.js';
import type { ModuleContext } from '../../core/modules.js';
import { seesUser } from './roster-store.js';

/**
 * True when `from` may learn about `user`'s account on this host: the account itself, or a contact
 * with a presence subscription to it (subscription from or both). Everyone else is a stranger.
 */
export async function knowsAccount(ctx: Pick<ModuleContext, 'host' | 'items'>, user: string, from: Jid | undefined): Promise<boolean> {
  if (!from) return false;
  const bare = from.bare();
  if (bare.domain === ctx.host.name && bare.local === user) return true;
  const rosters = ctx.items('roster-store')[0];
  if (!rosters) return false;
  return seesUser((await rosters.load(user)).items[bare.toString()]);
}
