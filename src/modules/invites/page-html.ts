// The invitation page's HTML: self-contained (inline style, no script, no image, no font, no
// external link but the xmpp: URI), because it is read through I2P where every outside fetch
// would be slow, would leak, or would fail. Every value put in it is escaped.

/** Text for HTML text and attribute values. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f1ec;color:#222}
main{max-width:40em;margin:0 auto;padding:1em 1.2em 3em}h1{font-size:1.6em}h1,p,li{overflow-wrap:anywhere}h2{font-size:1.15em;margin-top:1.6em}
pre,code{background:#fff;border:1px solid #ddd;border-radius:4px;padding:.1em .3em;overflow-x:auto}pre{padding:.6em}
.button,button{display:inline-block;background:#5b3c88;color:#fff;border:0;border-radius:4px;padding:.5em 1em;text-decoration:none;font-size:1em}
label{display:block;margin-top:.7em}input{font-size:1em;padding:.3em;width:100%;max-width:20em;box-sizing:border-box}
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.5em .8em;border-radius:4px}.ok{background:#e6f4e6;border:1px solid #9c9;padding:.5em .8em;border-radius:4px}
.small{color:#555;font-size:.9em}`;

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body><main>
${body}
</main></body></html>
`;
}

/** How to reach `host` through I2P: a client tunnel, or i2pd's SOCKS proxy. */
function connectHelp(host: string): string {
  const tunnel = `[xmpp-${(host.split('.')[0] ?? 'server').slice(0, 8)}]
type = client
address = 127.0.0.1
port = 5222
destination = ${host}
destinationport = 5222`;
  return `<h2>2. Reach the server through I2P</h2>
<p>${esc(host)} lives inside the I2P network: your device needs an I2P router (i2pd, or the Java I2P router) running. Then either:</p>
<ul>
<li><b>A client tunnel</b> (works with every client). Add this to i2pd's <code>tunnels.conf</code> and restart i2pd:
<pre>${esc(tunnel)}</pre>
then set your client's server (host name / connection settings) to <code>127.0.0.1</code>, port <code>5222</code>.
In Gajim: account settings, <i>Connection</i>, custom host and port. In Conversations: enable <i>Expert settings</i>, then host name and port in the account.</li>
<li><b>The SOCKS proxy</b> of the I2P router (i2pd: <code>127.0.0.1:4447</code>), for clients that take a SOCKS5 proxy and let it resolve the name (Gajim: a SOCKS5 proxy in the account's connection settings).</li>
</ul>
<p class="small">The connection is encrypted by I2P end to end; the server's certificate is self-signed, so your client may ask you to trust it once.</p>`;
}

/** What the page shows for a valid invitation. */
export interface InviteView {
  host: string;
  uri: string;
  /** The inviter's bare JID, for a contact invitation. */
  inviter?: string;
  /** Username the invitation is restricted to. */
  username?: string;
  expires: number;
  /** A refusal of the last submission, shown above the form. */
  error?: string;
  /** The username the visitor typed (kept in the form after an error). */
  typed?: string;
}

/** The invitation page: which client, how to connect through I2P, the xmpp: link and the registration form. */
export function invitePage(v: InviteView): string {
  const h = esc(v.host);
  const who = v.inviter ? `${esc(v.inviter)} invites you to chat on ${h}` : `You are invited to ${h}`;
  const name = v.username ?? v.typed ?? '';
  return page(`Invitation to ${v.host}`, `<h1>${who}</h1>
<p>${h} is a chat server (XMPP) inside the I2P network. This invitation creates one account on it${v.inviter ? `, and you and ${esc(v.inviter)} will see each other online` : ''}.</p>
<h2>1. Get a client</h2>
<ul>
<li>Android: <b>Conversations</b> (or Cheogram, monocles chat)</li>
<li>Linux, Windows: <b>Gajim</b>; Linux: <b>Dino</b></li>
<li>iOS, macOS: <b>Monal</b></li>
</ul>
${connectHelp(v.host)}
<h2>3. Create your account</h2>
<p><a class="button" href="${esc(v.uri)}">Open the invitation in your client</a></p>
<p class="small">Clients that know invitations (Conversations, Monal, …) create the account from this link. Or choose a name and a password here, then log in with them in any client:</p>
${v.error ? `<p class="error">${esc(v.error)}</p>` : ''}
<form method="post" action="">
<label>Username <input name="username" value="${esc(name)}" ${v.username ? 'readonly ' : ''}required maxlength="1023" autocomplete="username" autocapitalize="none" spellcheck="false"></label>
<label>Password <input name="password" type="password" required maxlength="1023" autocomplete="new-password"></label>
<label>Password again <input name="password2" type="password" required maxlength="1023" autocomplete="new-password"></label>
<p><button type="submit">Create my account</button></p>
</form>
<p class="small">Your address will be <i>username</i>@${h}. The invitation can be used once and is valid until ${esc(new Date(v.expires).toUTCString())}.</p>
<details><summary class="small">The invitation link for clients</summary><p><code>${esc(v.uri)}</code></p></details>`);
}

/** After a registration through the form. */
export function donePage(jid: string, host: string): string {
  return page('Account created', `<h1>Welcome!</h1>
<p class="ok">Your account <b>${esc(jid)}</b> is ready.</p>
<p>Log in with this address and your password in your XMPP client.</p>
${connectHelp(host)}`);
}

/** For an unknown, used or expired token: the same page for each, so it tells a guesser nothing. */
export function gonePage(): string {
  return page('Invitation not valid', `<h1>This invitation is not valid</h1>
<p>It may have been used already, or it has expired. Ask the person who invited you for a new one.</p>`);
}

/** While the host's guessing budget is spent (./guard.ts). */
export function busyPage(seconds: string): string {
  return page('Try again later', `<h1>Too many attempts</h1>
<p>This server has seen too many wrong invitation links recently. Try again in ${esc(seconds)} seconds.</p>`);
}
