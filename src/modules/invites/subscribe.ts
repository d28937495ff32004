// The mutual presence subscription an invitation sets up between its inviter and the account
// it registered (XEP-0379 §3, XEP-0401 §4), both local: each roster gets the other as
// subscription 'both' at once, stored before the pushes go out.
import type { ModuleContext } from '../../core/modules.js';
import { pushItem, type RosterItem } from '../roster/roster-store.js';

/** Make local users `a` and `b` of this host subscribed to each other, with roster pushes to their online resources. */
export async function subscribeBoth(ctx: Pick<ModuleContext, 'host' | 'items'>, a: string, b: string): Promise<void> {
  const rosters = ctx.items('roster-store')[0];
  if (!rosters) return; // no presence module: no rosters to change
  const host = ctx.host.name;
  for (const [user, contact] of [[a, b], [b, a]] as const) {
    const jid = `${contact}@${host}`;
    const { item, ver } = await rosters.modify(user, jid, (r, tx) => {
      const before = r.items[jid];
      const next: RosterItem = { subscription: 'both', groups: before?.groups ?? [], ...(before?.name ? { name: before.name } : {}) };
      r.items[jid] = next;
      delete r.pending[jid];
      return { item: next, ver: tx.bump() };
    });
    pushItem(ctx.host.sessions.ofUser(host, user), jid, item, ver);
  }
}
