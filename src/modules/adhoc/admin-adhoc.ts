// Server administration from an XMPP client, for the JIDs in `admins` (a host's list and the
// global one both count, as in Prosody). References: XEP-0133 (service administration),
// XEP-0050 (ad-hoc commands).
//
// Accounts: add, delete, change password, end sessions, roster, statistics. Users online: list,
// counts, an announcement. The server: re-read the config, shut down. Session addresses are
// never reported (Clove does not keep them: behind i2pd they are loopback anyway).
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { tryParseJid, type Jid } from '../../jid/jid.js';
import { defineModule, type ModuleContext } from '../../core/modules.js';
import type { Config } from '../../config/config.js';
import { StanzaError, StreamError } from '../../core/errors.js';
import { ConfigError } from '../../config/errors.js';
import { AccountError } from '../../storage/accounts.js';
import { rosterQuery, type RosterStore } from '../roster/roster-store.js';
import { badPayload, type AdhocCommand, type CommandOutcome } from './adhoc.js';
import { formElement, multi, single, type Field, type FormSpec, type Submission } from './dataforms.js';
import { reloadConfig } from './admin-reload.js';

const node = (name: string): string => `${NS.ADMIN}#${name}`;
/** COMPAT: Prosody — mod_admin_adhoc's node for reloading the config (XEP-0133 has none). */
const RELOAD_NODE = 'http://prosody.im/protocol/config#reload';

const accountjid: Field = { var: 'accountjid', type: 'jid-single', label: 'The Jabber ID of the account', required: true };
const accountjids: Field = { var: 'accountjids', type: 'jid-multi', label: 'The Jabber ID(s) of the accounts', required: true };
const password: Field = { var: 'password', type: 'text-private', label: 'The password for this account', required: true };
const announcement: Field = { var: 'announcement', type: 'text-multi', label: 'Announcement' };

const form = (title: string, fields: Field[]): FormSpec => ({ title, formType: NS.ADMIN, fields });
const result = (fields: Field[], ...extra: Element[]): Element => formElement('result', { formType: NS.ADMIN, fields }).append(...extra);

/** The bare JIDs in `admins`, for `host` and globally; a value that is not a user JID fails start-up (and a reload). */
export function adminJids(config: Config, host: string): Set<string> {
  const out = new Set<string>();
  for (const scope of [undefined, host]) {
    for (const text of config.get<string[]>('admins', scope)) {
      const jid = tryParseJid(text);
      if (!jid || !jid.local || jid.resource) throw new ConfigError(config.source('admins', scope).file, config.source('admins', scope).line, `'${text}' is not a user's bare JID (like admin@example.org)`, 'admins');
      out.add(jid.toString());
    }
  }
  return out;
}

/** Send a headline from the host to every bound session of the host (XEP-0133 announce, module announce); returns how many got it. */
export function announceToOnline(ctx: Pick<ModuleContext, 'host' | 'send'>, body: string, subject?: string): number {
  const host = ctx.host.name;
  const sessions = ctx.host.sessions.all(host).filter((s) => s.jid);
  for (const s of sessions) {
    void ctx.send(x('message', { type: 'headline', from: host, to: (s.jid as Jid).toString() }, subject && x('subject', null, subject), x('body', null, body)));
  }
  return sessions.length;
}

/** An AccountError as the stanza error XEP-0133 §5 gives it. */
function accountFailure(err: unknown): never {
  if (!(err instanceof AccountError)) throw err;
  if (err.code === 'exists') throw new StanzaError('conflict', err.message);
  if (err.code === 'not-found') throw new StanzaError('item-not-found', err.message);
  throw badPayload(err.message);
}

/** Lines of a text-multi field as one text. */
const text = (values: Submission, name: string): string => (values.get(name) ?? []).join('\n').trim();

export default defineModule({
  name: 'admin_adhoc',
  depends: ['adhoc'],
  setup(ctx) {
    const host = ctx.host;
    // Applied live: a reload adds and removes administrators.
    const admins = ctx.option.live.custom((config) => adminJids(config, host.name));
    const isAdmin = (from: Jid): boolean => admins().has(from.bare().toString());
    const offer = (cmd: Omit<AdhocCommand, 'allowed'>): void => ctx.provide('adhoc-command', { ...cmd, allowed: isAdmin });
    const rosters = (): RosterStore => {
      const store = ctx.items('roster-store')[0];
      if (!store) throw new StanzaError('service-unavailable', 'rosters are not loaded on this host');
      return store;
    };
    const timers = new Set<NodeJS.Timeout>();

    /** An account of this host named in a form (a resource, if given, is ignored). */
    const account = (value: string | undefined): Jid => {
      const jid = value === undefined ? null : tryParseJid(value);
      if (!jid || !jid.local) throw badPayload(`'${value ?? ''}' is not a user JID`);
      if (jid.domain !== host.name) throw badPayload(`${jid.bare()} is not an account of ${host.name}`);
      return jid.bare();
    };
    const existing = async (value: string | undefined): Promise<Jid> => {
      const jid = account(value);
      if (!(await host.accounts.exists(jid.local))) throw new StanzaError('item-not-found', `no account ${jid}`);
      return jid;
    };
    const online = (): string[] => [...new Set(host.sessions.all(host.name).map((s) => s.username))].sort();
    const announce = (body: string, subject?: string): number => announceToOnline(ctx, body, subject);

    offer({
      node: node('add-user'),
      name: 'Add User',
      form: () => form('Adding a User', [
        { ...accountjid, label: 'The Jabber ID for the account to be added' },
        password,
        { var: 'password-verify', type: 'text-private', label: 'Retype password' },
      ]),
      async run(_from, values) {
        const jid = account(single(values, 'accountjid'));
        const pw = values.get('password')?.[0] ?? '';
        const verify = values.get('password-verify')?.[0];
        if (verify !== undefined && verify !== pw) throw badPayload('the two passwords differ');
        await host.accounts.create(jid.local, pw).catch(accountFailure);
        await ctx.fire('user-created', { host: host.name, username: jid.local });
        return { note: `Created ${jid}.` };
      },
    });

    offer({
      node: node('delete-user'),
      name: 'Delete User',
      form: () => form('Deleting a User', [{ ...accountjids, label: 'The Jabber ID(s) to delete' }]),
      async run(_from, values) {
        // Every name is checked before anything is deleted.
        const jids: Jid[] = [];
        for (const v of multi(values, 'accountjids')) jids.push(await existing(v));
        for (const jid of jids) {
          for (const s of host.sessions.ofUser(host.name, jid.local)) s.close(new StreamError('not-authorized', 'this account was deleted'));
          await host.accounts.remove(jid.local).catch(accountFailure);
          await ctx.fire('user-deleted', { host: host.name, username: jid.local });
        }
        return { note: `Deleted ${jids.join(', ')}.` };
      },
    });

    offer({
      node: node('change-user-password'),
      name: 'Change User Password',
      form: () => form('Changing a User Password', [accountjid, password]),
      async run(_from, values) {
        const jid = account(single(values, 'accountjid'));
        await host.accounts.setPassword(jid.local, values.get('password')?.[0] ?? '').catch(accountFailure);
        return { note: `Changed the password of ${jid}.` };
      },
    });

    offer({
      node: node('end-user-session'),
      name: 'End User Session',
      form: () => form('Ending a User Session', [{ ...accountjids, label: 'The Jabber ID(s) whose sessions to end (a full JID ends one session)' }]),
      run(_from, values) {
        // Every name is checked before any session ends.
        const targets = multi(values, 'accountjids').map((v) => ({ user: account(v).local, resource: tryParseJid(v)?.resource ?? '' }));
        let ended = 0;
        for (const { user, resource } of targets) {
          for (const s of host.sessions.ofUser(host.name, user)) {
            if (resource && s.jid?.resource !== resource) continue;
            s.close(new StreamError('policy-violation', 'an administrator ended this session'));
            ended++;
          }
        }
        return { note: ended ? `Ended ${ended} session(s).` : 'No such session was online.' };
      },
    });

    offer({
      node: node('get-user-roster'),
      name: 'Get User Roster',
      form: () => form("Getting a User's Roster", [accountjid]),
      async run(_from, values) {
        const jid = await existing(single(values, 'accountjid'));
        const roster = await rosters().load(jid.local);
        const lines = Object.entries(roster.items).map(([contact, item]) => `${contact} (${item.subscription}${item.ask ? ', asked' : ''})${item.name ? ` ${item.name}` : ''}`);
        return {
          payload: result([
            { var: 'accountjid', type: 'jid-single', values: [jid.toString()] },
            { var: 'roster', type: 'text-multi', label: 'Contacts', values: lines },
          ], rosterQuery(roster)),
        };
      },
    });

    offer({
      node: node('user-stats'),
      name: 'Get User Statistics',
      form: () => form('Get User Statistics', [accountjid]),
      async run(_from, values) {
        const jid = await existing(single(values, 'accountjid'));
        const roster = await rosters().load(jid.local);
        const resources = host.sessions.ofUser(host.name, jid.local).map((s) => s.jid?.resource ?? '');
        return {
          payload: result([
            { var: 'accountjid', type: 'jid-single', values: [jid.toString()] },
            { var: 'rostersize', type: 'text-single', label: 'Roster items', values: [String(Object.keys(roster.items).length)] },
            { var: 'onlineresources', type: 'text-multi', label: 'Online resources', values: resources },
          ]),
        };
      },
    });

    offer({
      node: node('get-online-users-list'),
      name: 'Get List of Online Users',
      form: () => form('Requesting List of Online Users', [{
        var: 'max_items', type: 'list-single', label: 'Maximum number of items to show',
        options: ['25', '50', '75', '100', '150', '200', { label: 'None', value: 'none' }],
      }]),
      run(_from, values) {
        const max = single(values, 'max_items') ?? 'none';
        if (max !== 'none' && !/^\d{1,6}$/.test(max)) throw badPayload("max_items must be a number or 'none'");
        const users = online().map((u) => `${u}@${host.name}`);
        return { payload: result([{ var: 'onlineuserjids', type: 'jid-multi', label: 'The list of all online users', values: max === 'none' ? users : users.slice(0, Number(max)) }]) };
      },
    });

    offer({
      node: node('get-registered-users-num'),
      name: 'Get Number of Registered Users',
      async run() {
        const n = (await host.accounts.list()).length;
        return { payload: result([{ var: 'registeredusersnum', type: 'text-single', label: 'The number of registered users', values: [String(n)] }]) };
      },
    });

    offer({
      node: node('get-online-users-num'),
      name: 'Get Number of Online Users',
      run: () => ({ payload: result([{ var: 'onlineusersnum', type: 'text-single', label: 'The number of online users', values: [String(online().length)] }]) }),
    });

    offer({
      node: node('announce'),
      name: 'Send Announcement to Online Users',
      form: () => form('Making an Announcement', [{ var: 'subject', type: 'text-single', label: 'Subject' }, { ...announcement, required: true }]),
      run(_from, values) {
        const n = announce(text(values, 'announcement'), single(values, 'subject'));
        return { note: `Sent to ${n} session(s).` };
      },
    });

    offer({
      node: RELOAD_NODE,
      name: 'Reload Configuration',
      run: async (from): Promise<CommandOutcome> => reloadConfig(ctx, from.bare().toString()),
    });

    offer({
      node: node('shutdown'),
      name: 'Shut Down Service',
      form: () => form('Shutting Down the Service', [
        {
          var: 'delay', type: 'list-single', label: 'Time delay before shutting down',
          options: [{ label: 'Now', value: '0' }, { label: '30 seconds', value: '30' }, { label: '60 seconds', value: '60' }, { label: '2 minutes', value: '120' }, { label: '5 minutes', value: '300' }],
        },
        announcement,
      ]),
      run(_from, values) {
        const delay = single(values, 'delay') ?? '0';
        if (!/^\d{1,5}$/.test(delay) || Number(delay) > 86400) throw badPayload('delay must be a number of seconds, at most 86400');
        const words = text(values, 'announcement');
        if (words) announce(words, 'Server shutdown');
        ctx.log.info({ delay: Number(delay) }, 'an administrator asked for a shutdown');
        // Late enough for this reply (and the announcement) to be written first.
        const timer = setTimeout(() => {
          timers.delete(timer);
          void ctx.fire('server-shutdown-requested', { reason: 'shut down by an administrator' });
        }, Math.max(Number(delay) * 1000, 50));
        timers.add(timer);
        return { note: Number(delay) ? `Shutting down in ${delay} seconds.` : 'Shutting down now.' };
      },
    });

    return () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    };
  },
});
