// Discussion history of a room (XEP-0045 §7.2.15), in memory: the last groupchat messages,
// bounded in count (the room's historylength, capped by max_history_messages) and in bytes
// (muc_max_history_bytes), and the join-time filter (maxchars, maxstanzas, seconds, since).
// Room archives with MAM (XEP-0313 on the room) are a later step and would replace this store.
// References: XEP-0045 §7.2.15 (history on join), XEP-0203 (delay).

import type { Element } from '../../xml/element.js';

export interface HistoryEntry {
  /** The message as broadcast (from room/nick), without `to`. */
  readonly stanza: Element;
  /** Its serialised size, counted against the byte budget and maxchars. */
  readonly bytes: number;
  readonly at: number;
}

/** What a joining client asked for (`<history/>`); undefined fields mean "no limit". */
export interface HistoryRequest {
  maxchars?: number;
  maxstanzas?: number;
  seconds?: number;
  since?: number;
}

/** A bounded list of past messages, oldest first. */
export class History {
  private entries: HistoryEntry[] = [];
  private total = 0;

  constructor(private maxCount: number, private readonly maxBytes: number) {}

  get bytes(): number {
    return this.total;
  }

  get length(): number {
    return this.entries.length;
  }

  /** Change how many messages are kept (the room's historylength); older ones go now. */
  resize(maxCount: number): void {
    this.maxCount = maxCount;
    this.trim();
  }

  /** Keep a message; the oldest go when the count or byte budget is exceeded. */
  add(stanza: Element, now: number): void {
    const bytes = Buffer.byteLength(stanza.toString());
    if (this.maxCount === 0 || bytes > this.maxBytes) return;
    this.entries.push({ stanza, bytes, at: now });
    this.total += bytes;
    this.trim();
  }

  private trim(): void {
    while (this.entries.length > this.maxCount || this.total > this.maxBytes) {
      const gone = this.entries.shift() as HistoryEntry;
      this.total -= gone.bytes;
    }
  }

  /** The entries a join with `req` gets, oldest first (every limit given applies). */
  select(req: HistoryRequest, now: number): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    let chars = 0;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i] as HistoryEntry;
      if (req.maxstanzas !== undefined && out.length >= req.maxstanzas) break;
      if (req.seconds !== undefined && e.at < now - req.seconds * 1000) break;
      if (req.since !== undefined && e.at <= req.since) break;
      if (req.maxchars !== undefined && chars + e.bytes > req.maxchars) break;
      chars += e.bytes;
      out.push(e);
    }
    return out.reverse();
  }

  /** Forget everything (room destroyed). */
  clear(): void {
    this.entries = [];
    this.total = 0;
  }
}

/** Read `<history/>` of a join; bad numbers are ignored as Prosody does. */
export function readHistoryRequest(el: Element | undefined): HistoryRequest {
  if (!el) return {};
  const num = (s: string | undefined): number | undefined => (s !== undefined && /^\d{1,10}$/.test(s) ? Number(s) : undefined);
  const req: HistoryRequest = {};
  const maxchars = num(el.attrs.maxchars);
  const maxstanzas = num(el.attrs.maxstanzas);
  const seconds = num(el.attrs.seconds);
  if (maxchars !== undefined) req.maxchars = maxchars;
  if (maxstanzas !== undefined) req.maxstanzas = maxstanzas;
  if (seconds !== undefined) req.seconds = seconds;
  if (el.attrs.since !== undefined) {
    const t = Date.parse(el.attrs.since);
    if (!Number.isNaN(t)) req.since = t;
  }
  return req;
}
