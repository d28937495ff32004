// disco#info queries the server sends on a user's behalf (to learn what a caps `ver` means),
// and their answers, matched by id and by the JID that was asked.
// References: XEP-0115 §6.2 (querying for the ver), XEP-0030 §3.1.
import { randomBytes } from 'node:crypto';
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import type { StanzaEvent } from '../../core/events-map.js';

interface Waiting { jid: string; done: (answer: Element | undefined) => void; timer: NodeJS.Timeout }

export class DiscoAsker {
  private readonly waiting = new Map<string, Waiting>();

  constructor(private readonly domain: string, private readonly send: (stanza: Element) => void | Promise<void>, private readonly timeoutMs: number) {}

  /** Ask `jid` for disco#info of `node` from `user`'s bare JID; undefined on an error or no answer in time. */
  ask(user: string, jid: string, node: string): Promise<Element | undefined> {
    const id = `caps-${randomBytes(9).toString('base64url')}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle(id, undefined), this.timeoutMs);
      timer.unref();
      this.waiting.set(id, { jid, done: resolve, timer });
      const iq = x('iq', { type: 'get', id, from: `${user}@${this.domain}`, to: jid }, x('query', { xmlns: NS.DISCO_INFO, node }));
      Promise.resolve(this.send(iq)).catch(() => this.settle(id, undefined));
    });
  }

  /** An iq result or error to a user: true when it answered one of our queries (it goes no further). */
  answer(ev: StanzaEvent): true | undefined {
    const { id, type } = ev.stanza.attrs;
    if (!id || (type !== 'result' && type !== 'error')) return undefined;
    const w = this.waiting.get(id);
    if (!w) return undefined;
    if (ev.from?.toString() !== w.jid) return undefined; // someone else guessing our id
    const query = type === 'result' ? ev.stanza.getChild('query', NS.DISCO_INFO) : undefined;
    this.settle(id, query);
    return true;
  }

  private settle(id: string, answer: Element | undefined): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    w.done(answer);
  }

  /** Give up on every query (the module unloads). */
  close(): void {
    for (const id of [...this.waiting.keys()]) this.settle(id, undefined);
  }
}
