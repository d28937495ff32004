// Message of the day (Prosody's mod_motd): `motd_text` goes to each client session when it
// first sends available presence, from `motd_jid` (the host by default). Read at start.
// References: RFC 6121 §4.2 (initial presence), §5.2.2 (type normal).
import { defineModule } from '../core/modules.js';
import { x } from '../xml/element.js';

/** The configured text without the config file's indentation: trimmed, and each line's leading spaces removed. */
export function motdText(text: string): string {
  return text.trim().replace(/\n[ \t]+/g, '\n');
}

export default defineModule({
  name: 'motd',
  setup(ctx) {
    const text = ctx.option.get<string | undefined>('motd_text');
    const from = ctx.option.get<string | undefined>('motd_jid') ?? ctx.host.name;
    if (text === undefined || text.trim() === '') return;
    const body = motdText(text);
    ctx.hook('session-available', ({ session }) => {
      if (session.jid) void ctx.send(x('message', { type: 'normal', from, to: session.jid.toString() }, x('body', null, body)));
      return undefined;
    });
  },
});
