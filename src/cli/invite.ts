// `clove invite`: invitations from the command line (Prosody's `prosodyctl shell invite …`),
// written to the same store the running server reads (src/modules/invites/invite-store.ts).
//   clove invite create HOST|USER@HOST [--reusable] [--expires-after D]  an account invitation
//   clove invite contact USER@HOST [--expires-after D]   become USER's contact (and register)
//   clove invite list HOST                               pending invitations (ids, not tokens)
//   clove invite delete HOST ID                          revoke one
// `create` and `contact` print the xmpp: URI, then the invitation page's URL when the host
// loads invites_page (at its http_external_url).
import type { Config } from '../config/config.js';
import { parseDuration } from '../config/values.js';
import { ServerError } from '../core/errors.js';
import { tryParseJid } from '../jid/jid.js';
import { createFileBackend } from '../storage/file.js';
import { DEFAULT_MAX_PENDING, InviteLimitError, InviteStore, inviteUri, type StoredInvite } from '../modules/invites/invite-store.js';
import { inviteLinks } from '../modules/invites/links.js';
import { resolveModules } from '../modules/resolve.js';

const USAGE = 'usage: clove invite create HOST|USER@HOST [--reusable] [--expires-after 1w] | clove invite contact USER@HOST [--expires-after 1w] | clove invite list HOST | clove invite delete HOST ID';
/** Longest validity `--expires-after` and invite_expiry give an invitation. */
const MAX_TTL_S = 10 * 365 * 86400;

/** The host of `target` (a host or user@host), which must be a VirtualHost. */
function hostOf(config: Config, target: string | undefined): { user?: string; host: string } {
  const jid = target === undefined ? null : tryParseJid(target);
  if (!jid || jid.resource) throw new ServerError('usage', USAGE);
  if (!config.virtualHosts().includes(jid.domain)) throw new ServerError('usage', `${jid.domain} is not a VirtualHost in ${config.file}`);
  return jid.local ? { user: jid.local, host: jid.domain } : { host: jid.domain };
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined) throw new ServerError('usage', `${name} needs a value`);
  return v;
}

/** `clove invite …`; resolves to the exit code. */
export async function invite(config: Config, args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (config.get<string>('storage') === 'memory') throw new ServerError('usage', `${config.file}: storage = "memory" keeps no invitations between runs`);
  const positional = rest.filter((a, i) => !a.startsWith('--') && rest[i - 1] !== '--expires-after');
  const { user, host } = hostOf(config, positional[0]);
  const storage = createFileBackend(config.get<string>('data_path'));
  try {
    const store = new InviteStore(storage.keyval<StoredInvite>(host, 'invite_token'), Date.now, config.get<number | undefined>('invites_max_pending', host) ?? DEFAULT_MAX_PENDING);
    switch (sub) {
      case 'create':
      case 'contact': {
        if (sub === 'contact' && !user) throw new ServerError('usage', 'clove invite contact needs USER@HOST: the invitee becomes that user\'s contact');
        const given = flag(rest, '--expires-after');
        const ttl = given === undefined ? config.get<number>('invite_expiry', host) : parseDuration(given);
        if (ttl === undefined) throw new ServerError('usage', `--expires-after ${given ?? ''}: expected a duration like "1d", "1w" or a number of seconds`);
        // COMPAT: Prosody — `invite create_account --admin` gives the account a role; Clove's admins are the config's.
        if (rest.includes('--admin')) throw new ServerError('usage', `Clove has no roles: add the new account to admins in ${config.file} once it exists`);
        const reusable = rest.includes('--reusable');
        if (reusable && sub === 'contact') throw new ServerError('usage', '--reusable applies to account invitations (clove invite create)');
        const fields = sub === 'contact'
          ? { type: 'roster' as const, jid: `${user as string}@${host}`, inviter: user as string }
          : { type: 'register' as const, jid: user ? `${user}@${host}` : host, ...(reusable ? { reusable: true } : {}) };
        const created = await store.create({ ...fields, allowRegistration: true, creator: 'clove invite', expires: Date.now() + Math.min(ttl, MAX_TTL_S) * 1000 })
          .catch((err: unknown) => { throw err instanceof InviteLimitError ? new ServerError('account', err.message) : err; });
        const page = resolveModules(config, host).load.includes('invites_page');
        const links = inviteLinks(config, host, created, inviteUri(created), page);
        process.stdout.write(`${links.uri}\n${links.landing ? `${links.landing}\n` : ''}`);
        process.stderr.write(`invitation ${created.id} valid until ${new Date(created.expires).toISOString()}${reusable ? ' (reusable)' : ''}\n`);
        return 0;
      }
      case 'list': {
        for (const i of await store.pending()) {
          const what = i.type === 'roster' ? `contact of ${i.inviter ?? '?'}${i.allowRegistration ? ' (registers)' : ''}` : `account${i.jid.includes('@') ? ` ${i.jid}` : ''}${i.reusable ? ' (reusable)' : ''}`;
          process.stdout.write(`${i.id}  ${what}  by ${i.creator}  until ${new Date(i.expires).toISOString()}\n`);
        }
        return 0;
      }
      case 'delete': {
        const id = positional[1];
        if (!id || !(await store.exists(id))) throw new ServerError('account', `no pending invitation '${id ?? ''}' on ${host}`);
        await store.delete(id);
        process.stderr.write(`deleted invitation ${id}\n`);
        return 0;
      }
      default:
        throw new ServerError('usage', USAGE);
    }
  } finally {
    await storage.close();
  }
}
