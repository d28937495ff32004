// Ad-hoc commands: listing, describing and running the commands other modules offer.
// References: XEP-0050 (ad-hoc commands), XEP-0004 (data forms), XEP-0030 (disco nodes).
//
// A module offers a command with ctx.provide('adhoc-command', command). A command with a form
// runs in two steps: execute → the form (status 'executing', a sessionid) → the submitted form
// → completed. A command without a form completes at once, and so does a first request that
// already carries a complete submitted form (scripts do that). Required fields are checked
// here; a missing one is bad-request with <bad-payload/>. Who may list and run a command is the
// command's own decision; everyone else gets forbidden.
import { randomBytes } from 'node:crypto';
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import type { Jid } from '../../jid/jid.js';
import { DECLINE, defineModule } from '../../core/modules.js';
import { StanzaError } from '../../core/errors.js';
import { Priority } from '../../core/events.js';
import { formElement, FormError, missingFields, readSubmission, type FormSpec, type Submission } from './dataforms.js';

export interface CommandOutcome {
  /** Shown to the user; `noteType` defaults to 'info'. */
  note?: string;
  noteType?: 'info' | 'warn' | 'error';
  /** A data form of type 'result', or any payload. */
  payload?: Element;
}

/** What a module offers with ctx.provide('adhoc-command', …). */
export interface AdhocCommand {
  readonly node: string;
  readonly name: string;
  /** Whether `from` may see and run the command. */
  allowed(from: Jid): boolean;
  /** The form to fill in; a command without one runs at once. */
  form?(): FormSpec;
  /** Run with the submitted values (empty for a command without a form); throw StanzaError to refuse. */
  run(from: Jid, values: Submission): CommandOutcome | Promise<CommandOutcome>;
}

declare module '../../core/items-map.js' {
  interface ItemMap {
    /** An ad-hoc command (XEP-0050). Read by adhoc. */
    'adhoc-command': AdhocCommand;
  }
}

/** bad-request with XEP-0050's <bad-payload/>: the submitted form is wrong. */
export function badPayload(text: string): StanzaError {
  return new StanzaError('bad-request', text, undefined, x('bad-payload', { xmlns: NS.COMMANDS }));
}

/** bad-request with one of XEP-0050's specific conditions. */
function commandError(name: 'malformed-action' | 'bad-action' | 'bad-sessionid', text: string): StanzaError {
  return new StanzaError('bad-request', text, undefined, x(name, { xmlns: NS.COMMANDS }));
}

interface Session { node: string; owner: string; spec: FormSpec; expires: number }

/** How long a started command waits for its form. */
const SESSION_TTL_MS = 10 * 60 * 1000;
/** Started commands kept at once per requester and in all. */
const MAX_SESSIONS_PER_OWNER = 10;
const MAX_SESSIONS = 1000;

export default defineModule({
  name: 'adhoc',
  setup(ctx) {
    const host = ctx.host;
    ctx.feature(NS.COMMANDS);
    const commands = (): readonly AdhocCommand[] => ctx.items('adhoc-command');
    const sessions = new Map<string, Session>();

    const find = (node: string | undefined, from: Jid | undefined): AdhocCommand => {
      const cmd = commands().find((c) => c.node === node);
      if (!cmd) throw new StanzaError('item-not-found', 'no such command');
      if (!from || !cmd.allowed(from)) throw new StanzaError('forbidden', 'only administrators may run this command');
      return cmd;
    };

    // disco#items on the commands node lists what the requester may run (XEP-0050 §2.2); the
    // disco module answers every other node.
    ctx.iq('get', 'host', NS.DISCO_ITEMS, 'query', (ev) => {
      if (ev.stanza.getChild('query')?.attrs.node !== NS.COMMANDS) return DECLINE;
      const q = x('query', { xmlns: NS.DISCO_ITEMS, node: NS.COMMANDS });
      for (const c of commands()) if (ev.from && c.allowed(ev.from)) q.c('item', { jid: host.name, node: c.node, name: c.name });
      return q;
    }, Priority.early);

    // disco#info on a command's node describes it (XEP-0050 §2.3).
    ctx.iq('get', 'host', NS.DISCO_INFO, 'query', (ev) => {
      const node = ev.stanza.getChild('query')?.attrs.node;
      if (node !== NS.COMMANDS && !commands().some((c) => c.node === node)) return DECLINE;
      const q = x('query', { xmlns: NS.DISCO_INFO, node });
      if (node === NS.COMMANDS) return q.append(x('identity', { category: 'automation', type: 'command-list', name: 'Commands' }));
      const cmd = find(node, ev.from);
      return q.append(
        x('identity', { category: 'automation', type: 'command-node', name: cmd.name }),
        x('feature', { var: NS.COMMANDS }),
        x('feature', { var: NS.DATA_FORMS }),
      );
    }, Priority.early);

    const sweep = (now: number): void => {
      for (const [id, s] of sessions) if (s.expires <= now) sessions.delete(id);
    };

    const open = (node: string, owner: string, spec: FormSpec): string => {
      const now = Date.now();
      sweep(now);
      const mine = [...sessions].filter(([, s]) => s.owner === owner);
      if (mine.length >= MAX_SESSIONS_PER_OWNER) sessions.delete((mine[0] as [string, Session])[0]);
      if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value as string);
      const id = randomBytes(12).toString('base64url');
      sessions.set(id, { node, owner, spec, expires: now + SESSION_TTL_MS });
      return id;
    };

    const reply = (node: string, sessionid: string, status: string, ...children: (Element | false | undefined)[]): Element =>
      x('command', { xmlns: NS.COMMANDS, node, sessionid, status }, ...children);

    const complete = async (cmd: AdhocCommand, from: Jid, sessionid: string, spec: FormSpec | undefined, form: Element | undefined): Promise<Element> => {
      let values: Submission = new Map();
      if (spec) {
        if (!form) throw badPayload('this command needs its form filled in');
        try {
          values = readSubmission(form, spec.formType);
        } catch (err) {
          if (err instanceof FormError) throw badPayload(err.message);
          throw err;
        }
        const missing = missingFields(spec, values);
        if (missing.length) throw badPayload(`required field${missing.length > 1 ? 's' : ''} missing: ${missing.join(', ')}`);
      }
      const out = await cmd.run(from, values);
      return reply(cmd.node, sessionid, 'completed',
        out.note !== undefined && x('note', { type: out.noteType ?? 'info' }, out.note),
        out.payload);
    };

    ctx.iq('set', 'host', NS.COMMANDS, 'command', async (ev) => {
      const from = ev.from;
      if (!from) throw new StanzaError('bad-request');
      const req = ev.stanza.getChild('command', NS.COMMANDS) as Element;
      const cmd = find(req.attrs.node, from);
      const action = req.attrs.action ?? 'execute';
      if (!['execute', 'complete', 'next', 'prev', 'cancel'].includes(action)) throw commandError('malformed-action', `unknown action '${action}'`);
      const form = req.getChild('x', NS.DATA_FORMS);
      const id = req.attrs.sessionid;
      const owner = from.toString();

      if (id === undefined) {
        if (action === 'cancel') return reply(cmd.node, randomBytes(12).toString('base64url'), 'canceled');
        const spec = cmd.form?.();
        // A first request with the filled-in form, or a command without one, completes now.
        if (!spec || (form && form.attrs.type === 'submit')) return complete(cmd, from, randomBytes(12).toString('base64url'), spec, form);
        const sessionid = open(cmd.node, owner, spec);
        return reply(cmd.node, sessionid, 'executing', x('actions', { execute: 'complete' }, x('complete')), formElement('form', spec));
      }

      sweep(Date.now());
      const session = sessions.get(id);
      if (!session || session.owner !== owner || session.node !== cmd.node) throw commandError('bad-sessionid', 'no such command session (it may have expired)');
      // The session ends here whatever happens: a failed step starts again from execute.
      sessions.delete(id);
      if (action === 'cancel' || form?.attrs.type === 'cancel') return reply(cmd.node, id, 'canceled');
      if (action === 'prev') throw commandError('bad-action', 'this command has one step');
      return complete(cmd, from, id, session.spec, form);
    });

    return () => sessions.clear();
  },
});
