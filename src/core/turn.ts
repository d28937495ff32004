// A stanza's turn on its client stream (docs/architecture.md, "Handling order"). A c2s stream
// handles one stanza at a time, except that a message's handler may *release* its turn once
// everything whose order matters outside the server's control is fixed (its archive items are
// queued in their owners' order): the stream may then start the next message while this one
// waits for durability. Whatever a released stanza does next (carbons, delivery, errors) waits
// for the previous stanza of the stream to have settled, so every effect keeps the sent order.

/** One stanza's turn; made by the stream just before its handler runs. */
export class Turn {
  private freed = false;
  /** The previous stanza has settled: nothing of this one can overtake it any more. */
  ready = false;
  private onRelease: (() => void) | undefined;
  /** Resolves once release() was called (the stream may start the next stanza). */
  readonly released: Promise<void>;

  /**
   * `previous` settles once the stream's previous stanzas were fully handled (or failed);
   * `settled`: they already are.
   */
  constructor(private readonly previous: Promise<void>, settled: boolean) {
    this.released = new Promise<void>((resolve) => (this.onRelease = resolve));
    if (settled) this.ready = true;
    else void previous.then(() => (this.ready = true));
  }

  /** Whether release() was called. */
  get isReleased(): boolean {
    return this.freed;
  }

  /**
   * Let the stream start its next stanza; resolves once the previous stanza has settled. Call
   * it only when nothing the next stanza does can overtake this one; await what it returns
   * before any effect someone else sees. Calling it again returns the same wait.
   */
  release(): Promise<void> {
    if (!this.freed) {
      this.freed = true;
      this.onRelease?.();
      this.onRelease = undefined;
    }
    return this.previous;
  }
}

/** What must be awaited before an effect of the stanza holding `turn`: undefined when nothing. */
export function waitForTurn(turn: Turn | undefined): Promise<void> | undefined {
  return turn && !turn.ready ? turn.release() : undefined;
}

/** waitForTurn() for an event payload (a StanzaEvent may carry a turn). */
export function turnToWait(payload: unknown): Promise<void> | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const turn = (payload as { turn?: unknown }).turn;
  return turn instanceof Turn ? waitForTurn(turn) : undefined;
}
