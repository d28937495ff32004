// What a room keeps of each occupant session's presence (to show newcomers) counted in bytes over
// the whole service: rooms × occupants × stanza size would otherwise be unbounded for practical
// purposes. A join or presence change that would pass the budget is refused with
// resource-constraint (docs/limits.md).
import type { Element } from '../../xml/element.js';
import { StanzaError } from '../../core/errors.js';

/** Bytes of stored occupant presence of one service. */
export class PresenceBudget {
  used = 0;
  constructor(readonly max: number) {}

  /** Throws resource-constraint unless `bytes` more fit. */
  check(bytes: number): void {
    if (this.used + bytes > this.max) throw new StanzaError('resource-constraint', 'This chat service holds as much presence as it may; try again later', 'wait');
  }
}

/** An occupant's sessions (real full JID → last presence), each counted against the budget. */
export class SessionMap extends Map<string, Element> {
  private readonly sizes = new Map<string, number>();

  constructor(private readonly budget: PresenceBudget) {
    super();
  }

  override set(key: string, value: Element): this {
    const bytes = Buffer.byteLength(value.toString());
    this.budget.used += bytes - (this.sizes.get(key) ?? 0);
    this.sizes.set(key, bytes);
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    this.budget.used -= this.sizes.get(key) ?? 0;
    this.sizes.delete(key);
    return super.delete(key);
  }

  override clear(): void {
    for (const b of this.sizes.values()) this.budget.used -= b;
    this.sizes.clear();
    super.clear();
  }
}
