// In-band registration before authentication, and password change and account removal after.
// References: XEP-0077 (In-Band Registration), XEP-0004 (Data Forms), XEP-0068 (FORM_TYPE),
// RFC 6120 §8.3 (stanza errors), RFC 7622 §3.3 (localparts).
//
// Where XEP-0077 leaves room, Clove chooses:
// - Before TLS while c2s_require_encryption is on, a registration iq gets `policy-violation`
//   (modify) saying to use STARTTLS, as Prosody does; the stream stays open, so the client can
//   upgrade and ask again. The stream feature is only offered once the stream is encrypted.
// - Registration closed (allow_registration = false): a `get` gets `service-unavailable`
//   (§3.1: "a host that does not support in-band registration"), a `set` gets `not-allowed`;
//   both say so in text. Password change and removal work either way. A client that gave a
//   valid invitation first (XEP-0445, module invites_register) may register all the same.
// - The throttle behind i2pd (every client comes from loopback: docs/architecture.md) is per connection
//   and per host, never per address: one account per connection and at most
//   MAX_ATTEMPTS_PER_CONNECTION tries, refused with `not-acceptable` (§3.1.1 names it for both);
//   and at most registration_throttle_max new accounts per registration_throttle_period seconds
//   on the host, refused with `resource-constraint` (wait) and the seconds to wait in the text.
//   Prosody says `policy-violation` (wait) for its per-address throttle; a host-wide budget is
//   not the asking client's fault, so the condition is the one RFC 6120 has for "not now".
// - Error replies never echo the request: it carries a password (§3.3 says SHOULD NOT for
//   password changes; the same reasoning holds for registrations).
// - Usernames: missing or empty → `not-acceptable` (§3.1: required information not provided);
//   not a valid localpart (a space, '@', longer than 1023 bytes, …) → `jid-malformed`.
// - Removing an account: the result, then every session of the account gets the
//   `not-authorized` stream error (§3.2); 'user-deleted' lets other modules drop its data.
import { defineModule, type IqHandler } from '../core/modules.js';
import { Element, x } from '../xml/element.js';
import { NS } from '../xml/ns.js';
import { StanzaError, StreamError, errorReply, stanzaErrorFor } from '../core/errors.js';
import { iqResult } from '../core/stanza.js';
import { AccountError } from '../storage/accounts.js';
import { JidError, prepLocal, tryParseJid } from '../jid/jid.js';
import type { C2SSession } from '../core/session.js';
import type { StanzaEvent } from '../core/events-map.js';
import type { AccountRegistrar, RegistrationClaim } from './registration.js';
import { SlidingWindow } from '../throttle/window.js';

/** Registration attempts (iq set) one connection may make before it has to reconnect. */
const MAX_ATTEMPTS_PER_CONNECTION = 5;
/** Longest password accepted, in UTF-8 bytes (the same bound as a JID part). */
const MAX_PASSWORD_BYTES = 1023;
/** FORM_TYPE of the password change form of XEP-0077 §3.3. */
const CHANGE_PASSWORD_FORM = 'jabber:iq:register:changepassword';
const DATA_KEY = 'register';

interface ConnectionState { attempts: number; registered: boolean }
interface Submission { username: string | undefined; password: string | undefined }

export default defineModule({
  name: 'register',
  setup(ctx) {
    const host = ctx.host;
    // allow_registration applies live on SIGHUP: an operator can open or close sign-ups
    // without dropping anyone's session.
    const allowRegistration = ctx.option.live.boolean('allow_registration', false);
    const requireEncryption = ctx.option.live.boolean('c2s_require_encryption', true);
    let announced = allowRegistration();
    ctx.hook('config-reloaded', () => {
      if (allowRegistration() !== announced) ctx.log.info(`allow_registration is now ${allowRegistration()}`);
      announced = allowRegistration();
    });
    const budget = new SlidingWindow(
      ctx.option.number('registration_throttle_max', 10, { min: 1, integer: true }),
      ctx.option.number('registration_throttle_period', 3600, { min: 1 }) * 1000,
    );
    ctx.feature(NS.REGISTER);

    ctx.hook('stream-features', ({ session, features }) => {
      if (allowRegistration() && session.state === 'negotiating' && (session.secure || !requireEncryption())) {
        features.append(x('register', { xmlns: NS.REGISTER_FEATURE }));
      }
      return undefined;
    });

    // ---- before authentication ----

    ctx.hook('unauthenticated-stanza', ({ session, stanza }) => {
      if (stanza.name !== 'iq' || !stanza.getChild('query', NS.REGISTER)) return undefined;
      const type = stanza.attrs.type;
      if (type === 'result' || type === 'error') return true; // nothing of ours to answer
      // Replies go back on this stream alone: no `to` (the client has no address yet), and no
      // payload echoed in errors.
      const request = new Element('iq', { ...stanza.attrs });
      delete request.attrs.from;
      return beforeAuth(session, stanza).then(
        (payload) => { session.send(iqResult(request, payload)); return true; },
        (err: unknown) => {
          const { error, unexpected } = stanzaErrorFor(err);
          if (unexpected) ctx.log.error({ err }, 'in-band registration failed');
          session.send(errorReply(request, error) as Element);
          return true;
        },
      );
    });

    async function beforeAuth(session: C2SSession, stanza: Element): Promise<Element | undefined> {
      const type = stanza.attrs.type;
      if (type !== 'get' && type !== 'set') throw new StanzaError('bad-request', 'iq type must be get or set');
      if (stanza.elements().length !== 1) throw new StanzaError('bad-request', 'an iq get or set carries exactly one payload');
      if (session.state !== 'negotiating') {
        throw new StanzaError('not-allowed', 'this stream is authenticated: bind a resource, then change the password with jabber:iq:register');
      }
      const to = stanza.attrs.to;
      if (to !== undefined) {
        const jid = tryParseJid(to);
        if (!jid || jid.local || jid.resource || jid.domain !== host.name) {
          throw new StanzaError('service-unavailable', 'before authentication only the server itself can be asked');
        }
      }
      if (requireEncryption() && !session.secure) {
        throw new StanzaError('policy-violation', 'this server requires encryption: use STARTTLS before registering');
      }
      // An invitation (XEP-0445, module invites_register) opens registration for its session.
      const gate = ctx.items('registration-gate')[0];
      if (!allowRegistration() && !gate?.admits(session)) {
        const text = gate
          ? 'registration on this server is by invitation only: open your invitation link (XEP-0445 preauth first)'
          : 'in-band registration is closed on this server; ask its administrator for an account';
        throw type === 'get' ? new StanzaError('service-unavailable', text) : new StanzaError('not-allowed', text);
      }
      if (type === 'get') return registrationForm(host.name);
      await register(session, stanza.getChild('query', NS.REGISTER) as Element);
      return undefined;
    }

    async function register(session: C2SSession, query: Element): Promise<void> {
      let state = session.data.get(DATA_KEY) as ConnectionState | undefined;
      if (!state) session.data.set(DATA_KEY, (state = { attempts: 0, registered: false }));
      if (child(query, 'remove')) throw new StanzaError('unexpected-request', 'log in to remove an account', 'modify');
      if (state.registered) {
        throw new StanzaError('not-acceptable', 'this connection already created an account: log in with it, or connect again to create another');
      }
      if (state.attempts >= MAX_ATTEMPTS_PER_CONNECTION) {
        throw new StanzaError('not-acceptable', `too many registration attempts on this connection (${MAX_ATTEMPTS_PER_CONNECTION}): connect again`);
      }
      state.attempts++;
      const sub = readSubmission(query, [NS.REGISTER]);
      const gate = ctx.items('registration-gate')[0];
      await registrar.register(sub.username, sub.password, gate && ((username) => gate.claim(session, username)));
      state.registered = true;
    }

    const registrar: AccountRegistrar = {
      async register(given, givenPassword, claimFor) {
        const username = checkUsername(given);
        const password = checkPassword(givenPassword);
        // A taken name is refused before it costs the host's budget or any password hashing.
        if (await host.accounts.exists(username)) throw new StanzaError('conflict', `the username '${username}' is taken`);
        const slot = budget.take();
        if (typeof slot === 'number') {
          throw new StanzaError('resource-constraint', `too many new accounts on this server recently; try again in ${slot} seconds`, 'wait');
        }
        let claim: RegistrationClaim | undefined;
        try {
          claim = await claimFor?.(username);
          await host.accounts.create(username, password);
        } catch (err) {
          slot.release();
          claim?.release();
          throw accountError(err, username);
        }
        ctx.log.info({ user: username, invited: claim !== undefined }, 'account registered');
        try {
          await claim?.commit(username);
        } catch (err) {
          ctx.log.error({ err, user: username }, 'using up the invitation failed');
        }
        try {
          await ctx.fire('user-created', { host: host.name, username });
        } catch (err) {
          ctx.log.error({ err, user: username }, 'a user-created handler failed');
        }
        return username;
      },
    };
    ctx.provide('account-registrar', registrar);

    // ---- after authentication: the account's own settings ----

    /** The local account asking (only a client of this host may manage its own account). */
    const owner = (ev: StanzaEvent): string => {
      const from = ev.from;
      if (ev.origin?.kind !== 'c2s' || !from || !from.local || from.domain !== host.name) {
        throw new StanzaError('service-unavailable');
      }
      return from.local;
    };

    ctx.iq('get', ['self', 'host'], NS.REGISTER, 'query', (ev) => {
      const user = owner(ev);
      return x('query', { xmlns: NS.REGISTER }, x('registered'), x('username', null, user));
    });

    ctx.iq('set', ['self', 'host'], NS.REGISTER, 'query', withoutEcho(async (ev) => {
      const user = owner(ev);
      const query = ev.stanza.getChild('query', NS.REGISTER) as Element;
      if (child(query, 'remove')) {
        if (query.elements().length !== 1) throw new StanzaError('bad-request', '<remove/> must be the only child of <query/>');
        return removeAccount(user);
      }
      const sub = readSubmission(query, [NS.REGISTER, CHANGE_PASSWORD_FORM]);
      if (sub.username === undefined) throw new StanzaError('bad-request', 'a password change needs the account username');
      if (!sameUser(sub.username, user)) throw new StanzaError('forbidden', 'only your own password can be changed');
      // §3.3: an empty password never replaces the old one.
      const password = checkPassword(sub.password);
      try {
        await host.accounts.setPassword(user, password);
      } catch (err) {
        throw accountError(err, user);
      }
      ctx.log.info({ user }, 'password changed in-band');
      return undefined;
    }));

    async function removeAccount(user: string): Promise<undefined> {
      try {
        await host.accounts.remove(user);
      } catch (err) {
        if (err instanceof AccountError && err.code === 'not-found') throw new StanzaError('registration-required', 'this account does not exist any more');
        throw err;
      }
      ctx.log.info({ user }, 'account removed in-band');
      try {
        await ctx.fire('user-deleted', { host: host.name, username: user });
      } catch (err) {
        ctx.log.error({ err, user }, 'cleaning up after a removed account failed');
      }
      // The router queues the result as soon as this handler resolves; this runs after that,
      // and closing flushes what is queued first, so the client reads the result, then the error.
      setImmediate(() => {
        for (const s of host.sessions.ofUser(host.name, user)) s.close(new StreamError('not-authorized', 'the account was removed'));
      });
      return undefined;
    }

    function sameUser(given: string, user: string): boolean {
      // XEP-0077's change-password form gives the bare JID; the legacy field the localpart.
      const jid = given.includes('@') ? tryParseJid(given) : null;
      if (jid) return jid.local === user && jid.domain === host.name && !jid.resource;
      try {
        return prepLocal(given) === user;
      } catch {
        return false;
      }
    }
  },
});

/** The registration form: legacy fields for old clients and the same as a data form. */
function registrationForm(domain: string): Element {
  const instructions = `Choose a username and a password for your new account on ${domain}.`;
  return x('query', { xmlns: NS.REGISTER },
    x('instructions', null, instructions),
    x('username'),
    x('password'),
    x('x', { xmlns: NS.DATA_FORMS, type: 'form' },
      x('title', null, `Create an account on ${domain}`),
      x('instructions', null, instructions),
      x('field', { type: 'hidden', var: 'FORM_TYPE' }, x('value', null, NS.REGISTER)),
      x('field', { type: 'text-single', var: 'username', label: 'Username' }, x('required')),
      x('field', { type: 'text-private', var: 'password', label: 'Password' }, x('required'))));
}

/** A child of <query/> in its namespace (inherited or declared again). */
function child(query: Element, name: string): Element | undefined {
  return query.getChildren(name).find((c) => c.xmlns === undefined || c.xmlns === NS.REGISTER);
}

/**
 * Username and password from a submitted data form (preferred, XEP-0077 §6) or the legacy
 * fields. A form of another FORM_TYPE, a cancelled form or a field given twice is refused.
 */
function readSubmission(query: Element, formTypes: readonly string[]): Submission {
  const form = query.getChild('x', NS.DATA_FORMS);
  if (!form) return { username: child(query, 'username')?.text(), password: child(query, 'password')?.text() };
  if (form.attrs.type === 'cancel') throw new StanzaError('not-acceptable', 'the form was cancelled; nothing was changed');
  if (form.attrs.type !== 'submit') throw new StanzaError('bad-request', "a filled-in form has type='submit'");
  const values = new Map<string, string[]>();
  for (const f of form.getChildren('field')) {
    const name = f.attrs.var;
    if (name === undefined) continue; // 'fixed' fields carry no data
    if (values.has(name)) throw new StanzaError('not-acceptable', `the form has the field '${name}' twice`);
    values.set(name, f.getChildren('value').map((v) => v.text()));
  }
  const single = (name: string): string | undefined => {
    const v = values.get(name);
    if (v === undefined) return undefined;
    if (v.length > 1) throw new StanzaError('not-acceptable', `the field '${name}' has several values`);
    return v[0] ?? '';
  };
  const formType = single('FORM_TYPE');
  if (formType !== undefined && !formTypes.includes(formType)) {
    throw new StanzaError('not-acceptable', `this form has FORM_TYPE '${formType}'; expected ${formTypes.join(' or ')}`);
  }
  return { username: single('username'), password: single('password') };
}

function checkUsername(u: string | undefined): string {
  if (u === undefined) throw new StanzaError('not-acceptable', 'a username is required');
  if (u === '') throw new StanzaError('not-acceptable', 'the username is empty');
  try {
    return prepLocal(u);
  } catch (err) {
    if (err instanceof JidError) throw new StanzaError('jid-malformed', `this username cannot be an XMPP address: ${err.message}`);
    throw err;
  }
}

function checkPassword(p: string | undefined): string {
  if (p === undefined) throw new StanzaError('not-acceptable', 'a password is required');
  if (p === '') throw new StanzaError('not-acceptable', 'the password is empty');
  if (Buffer.byteLength(p, 'utf8') > MAX_PASSWORD_BYTES) throw new StanzaError('not-acceptable', `the password is longer than ${MAX_PASSWORD_BYTES} bytes`);
  return p;
}

/** An account store refusal as the stanza error the client sees. */
function accountError(err: unknown, user: string): unknown {
  if (!(err instanceof AccountError)) return err;
  switch (err.code) {
    case 'exists': return new StanzaError('conflict', `the username '${user}' is taken`);
    case 'invalid-username': return new StanzaError('jid-malformed', err.message);
    case 'invalid-password': return new StanzaError('not-acceptable', `this password cannot be used: ${err.message}`);
    case 'not-found': return new StanzaError('registration-required', 'this account does not exist any more');
  }
}

/** An iq handler whose error replies leave the request out (it carries a password). */
function withoutEcho(handler: IqHandler): IqHandler {
  return async (ev) => {
    try {
      return await handler(ev);
    } catch (err) {
      ev.stanza.children = [];
      throw err;
    }
  };
}
