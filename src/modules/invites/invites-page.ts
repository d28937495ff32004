// The invitation page (prosody-modules' mod_invites_page with mod_invites_register_web): at
// `<http_external_url>/invite/<token>`, a page that says which client to use, how to reach the
// server through I2P, shows the xmpp: link, and creates the account with a form.
// References: XEP-0401 §6 (landing page), RFC 9110, the HTML form POST (urlencoded).
//
// - The token in the path is the page's capability: a forged cross-site POST cannot know it.
//   On top of that a POST must be `application/x-www-form-urlencoded`, and one whose `Origin`
//   names another site (or whose `Sec-Fetch-Site` says cross-site) is refused (403).
// - The body is bounded (MAX_FORM_BYTES, 413 beyond); registration follows the register
//   module's rules (username and password checks, taken names, registration_throttle) and uses
//   the invitation up exactly as in-band registration does (claimed atomically).
// - An unknown, used or expired token gets the same 404 page: nothing tells them apart. Wrong
//   tokens count against the host's guessing budget (./guard.ts); while it is spent the page
//   answers 429 with Retry-After.
// - Responses are never cached (the URL holds a secret), carry no referrer, and a
//   Content-Security-Policy that allows nothing from anywhere but the inline style.
import type { ServerResponse } from 'node:http';
import { defineModule } from '../../core/modules.js';
import { StanzaError } from '../../core/errors.js';
import { HttpError, type HttpRequest } from '../../core/http.js';
import type { InviteService } from './invites.js';
import type { Invite } from './invite-store.js';
import { INVITE_PATH } from './links.js';
import { busyPage, donePage, gonePage, invitePage, type InviteView } from './page-html.js';

/** Largest form body: a username and two passwords of at most 1023 bytes each, encoded. */
const MAX_FORM_BYTES = 16 * 1024;
const CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function send(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Security-Policy', CSP);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(html);
}

/** A refusal of the form as the visitor reads it, and its status. */
function refusal(err: StanzaError): { status: number; text: string } {
  const text = err.text ?? err.condition;
  switch (err.condition) {
    case 'conflict': return { status: 409, text };
    case 'resource-constraint': return { status: 429, text };
    case 'not-allowed': return { status: 403, text };
    default: return { status: 400, text };
  }
}

/** True when the request's Origin or Sec-Fetch-Site says another site sent it. */
function crossSite(req: HttpRequest): boolean {
  if (req.raw.headers['sec-fetch-site'] === 'cross-site') return true;
  const origin = req.raw.headers.origin;
  if (origin === undefined) return false;
  const host = req.raw.headers.host;
  return host === undefined || (origin !== `http://${host}` && origin !== `https://${host}`);
}

export default defineModule({
  name: 'invites_page',
  depends: ['invites'],
  setup(ctx) {
    const service = (): InviteService => {
      const s = ctx.items('invite-service')[0];
      if (!s) throw new HttpError(503, 'invitations are not enabled on this server');
      return s;
    };
    const view = (invite: Invite, extra: Partial<InviteView> = {}): InviteView => {
      const at = invite.jid.indexOf('@');
      const reserved = invite.type === 'register' && at > 0 ? invite.jid.slice(0, at) : undefined;
      return {
        host: ctx.host.name,
        uri: service().links(invite).uri,
        expires: invite.expires,
        ...(invite.inviter ? { inviter: `${invite.inviter}@${ctx.host.name}` } : {}),
        ...(reserved ? { username: reserved } : {}),
        ...extra,
      };
    };

    /** The invitation of the request's token, or undefined after answering 404 or 429. */
    const lookUp = async (req: HttpRequest, res: ServerResponse): Promise<Invite | undefined> => {
      try {
        const invite = await service().check(req.rest);
        if (invite.allowRegistration) return invite;
      } catch (err) {
        if (!(err instanceof StanzaError)) throw err;
        if (err.condition === 'resource-constraint') {
          const wait = /(\d+) seconds/.exec(err.text ?? '')?.[1] ?? '60';
          send(res, 429, busyPage(wait), { 'Retry-After': wait });
          return undefined;
        }
      }
      send(res, 404, gonePage());
      return undefined;
    };

    ctx.provide('http-route', {
      path: INVITE_PATH,
      methods: ['GET', 'HEAD', 'POST'],
      maxBody: MAX_FORM_BYTES,
      async handle(req, res) {
        if (req.method === 'POST') {
          const type = (req.raw.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
          if (type !== 'application/x-www-form-urlencoded') throw new HttpError(415, 'the form is sent as application/x-www-form-urlencoded');
          if (crossSite(req)) throw new HttpError(403, 'this form only takes submissions from its own page');
        }
        const invite = await lookUp(req, res);
        if (!invite) return;
        if (req.method !== 'POST') return send(res, 200, invitePage(view(invite)));

        const form = new URLSearchParams((req.body ?? Buffer.alloc(0)).toString('utf8'));
        const username = form.get('username') ?? undefined;
        const password = form.get('password') ?? undefined;
        const typed = { typed: username ?? '' };
        if (password !== (form.get('password2') ?? undefined)) return send(res, 400, invitePage(view(invite, { ...typed, error: 'The two passwords differ.' })));
        const registrar = ctx.items('account-registrar')[0];
        if (!registrar) throw new HttpError(503, 'registration is not enabled on this server (module register)');
        try {
          const user = await registrar.register(username, password, (u) => service().claim(invite, u));
          ctx.log.info({ user, id: invite.id }, 'account registered on the invitation page');
          send(res, 201, donePage(`${user}@${ctx.host.name}`, ctx.host.name));
        } catch (err) {
          if (!(err instanceof StanzaError)) throw err;
          const { status, text } = refusal(err);
          send(res, status, invitePage(view(invite, { ...typed, error: `Not created: ${text}.` })));
        }
      },
    });
  },
});
