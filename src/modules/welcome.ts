// A welcome message to every new account (Prosody's mod_welcome): `welcome_message` from the
// host to the new bare JID, so it waits in offline storage for the first login. `$username` and
// `$host` in the text are replaced. Read at start.
// References: RFC 6121 §5.2.2 (type normal), XEP-0160 (offline delivery).
import { defineModule } from '../core/modules.js';
import { x } from '../xml/element.js';

/** The text when welcome_message is not set. */
const DEFAULT = 'Welcome to $host, $username! Your account is ready.';

/** The welcome text for one account. */
export function welcomeText(template: string, username: string, host: string): string {
  return template.replace(/\$(username|host)\b/g, (_m, name: string) => (name === 'username' ? username : host));
}

export default defineModule({
  name: 'welcome',
  setup(ctx) {
    const template = ctx.option.get<string | undefined>('welcome_message') ?? DEFAULT;
    ctx.hook('user-created', async ({ host, username }) => {
      if (host !== ctx.host.name) return undefined;
      await ctx.send(x('message', { type: 'normal', from: host, to: `${username}@${host}` }, x('body', null, welcomeText(template, username, host))));
      return undefined;
    });
  },
});
