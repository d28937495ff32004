// Token guessing: behind i2pd every client comes from loopback (docs/architecture.md), so the
// throttle is per connection and per host, never per address. A connection may give
// MAX_WRONG_PER_CONNECTION wrong tokens; the host accepts WRONG_PER_WINDOW wrong tokens per
// window over every connection and the web page together, and while that budget is spent every
// token is refused unchecked (a guesser learns nothing; an invitee waits a minute).
// With 144 secret bits a guess never succeeds anyway: the throttle keeps guessing from costing
// the server disk reads.
import { StanzaError } from '../../core/errors.js';
import { SlidingWindow } from '../../throttle/window.js';

/** Wrong tokens one connection may give before it has to reconnect. */
export const MAX_WRONG_PER_CONNECTION = 5;
/** Wrong tokens a host accepts per window, over all connections and the web page. */
export const WRONG_PER_WINDOW = 30;
/** The window, in milliseconds. */
export const WRONG_WINDOW_MS = 60_000;

/** What one connection has tried. */
export interface GuessCount { wrong: number }

/** The host's budget of wrong tokens. */
export class GuessGuard {
  private readonly window: SlidingWindow;
  private waitUntil = 0;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.window = new SlidingWindow(WRONG_PER_WINDOW, WRONG_WINDOW_MS, now);
  }

  /** Before looking a token up: throws while the connection or the host has guessed too much. */
  check(conn?: GuessCount): void {
    if (conn && conn.wrong >= MAX_WRONG_PER_CONNECTION) {
      throw new StanzaError('not-acceptable', `too many wrong invitation tokens on this connection (${MAX_WRONG_PER_CONNECTION}): connect again`);
    }
    const left = Math.ceil((this.waitUntil - this.now()) / 1000);
    if (left > 0) throw new StanzaError('resource-constraint', `too many wrong invitation tokens on this server recently; try again in ${left} seconds`, 'wait');
  }

  /** A token was wrong: count it for the connection and the host. */
  wrong(conn?: GuessCount): void {
    if (conn) conn.wrong++;
    const slot = this.window.take();
    if (typeof slot === 'number') this.waitUntil = this.now() + slot * 1000;
  }
}
