// What both backends do the same for one owner's archive: check an item against the limits,
// give it its sequence number and time, and turn index positions into items and metadata.
import { ARCHIVE_DEFAULT_MAX_BYTES, ARCHIVE_DEFAULT_MAX_ITEMS, ArchiveItemNotFoundError, ArchiveQuotaError, type ArchiveItem, type ArchiveLimits, type ArchiveMetadata, type ArchivePayload } from '../store.js';
import type { IdCodec } from './ids.js';
import { ArchiveIndex } from './index.js';
import { recordSize, type ArchiveRecord } from './record.js';

/** Limits with defaults filled in. */
export function resolveLimits(l: ArchiveLimits | undefined): Required<ArchiveLimits> {
  const maxItems = l?.maxItems ?? ARCHIVE_DEFAULT_MAX_ITEMS;
  const maxBytes = l?.maxBytes ?? ARCHIVE_DEFAULT_MAX_BYTES;
  if (!(maxItems >= 0) || !(maxBytes >= 0)) throw new RangeError('archive limits must be ≥ 0');
  return { maxItems, maxBytes };
}

/** An item to append, as callers give it. */
export interface NewItem {
  with?: string;
  payload: ArchivePayload;
  when?: number;
}

/** One owner's index and counters; items not yet durable are counted as pending. */
export class OwnerState {
  readonly index = new ArchiveIndex();
  /** Items and bytes accepted but not yet in the index (being written). */
  pendingItems = 0;
  pendingBytes = 0;
  /** Time of the newest accepted item. */
  private lastWhen = -Infinity;

  constructor(
    readonly owner: string,
    readonly codec: IdCodec,
    /** Next sequence number; never reused while the owner's key lives. */
    public nextSeq: number,
  ) {}

  /** Check `item` against the limits and give it a sequence number and time; throws when refused. */
  accept(item: NewItem, limits: Required<ArchiveLimits>): ArchiveRecord & { size: number } {
    const withJid = item.with ?? '';
    if (typeof withJid !== 'string') throw new TypeError('archive with must be a string');
    if (typeof item.payload !== 'string' && !(item.payload instanceof Uint8Array)) throw new TypeError('archive payload must be a string or bytes');
    const size = recordSize(withJid, item.payload);
    if (this.index.length + this.pendingItems >= limits.maxItems) throw new ArchiveQuotaError(this.owner, 'items', limits.maxItems);
    if (this.index.bytes + this.pendingBytes + size > limits.maxBytes) throw new ArchiveQuotaError(this.owner, 'bytes', limits.maxBytes);
    const asked = item.when ?? Date.now();
    if (!Number.isFinite(asked)) throw new TypeError('archive when must be a finite number');
    const when = Math.max(asked, this.lastWhen, this.index.lastTime());
    this.lastWhen = when;
    return { seq: this.nextSeq++, when, with: withJid, payload: item.payload, size };
  }

  /** The item at index position `pos` with its payload. */
  item(pos: number, payload: ArchivePayload): ArchiveItem {
    const ix = this.index;
    return { id: this.codec.encode(ix.seqAt(pos)), when: ix.timeAt(pos), with: ix.withAt(pos), payload };
  }

  /** The metadata of what the index holds. */
  metadata(): ArchiveMetadata {
    const ix = this.index;
    const m: ArchiveMetadata = { count: ix.length, bytes: ix.bytes };
    if (ix.length > 0) {
      const last = ix.length - 1;
      m.first = { id: this.codec.encode(ix.seqAt(0)), when: ix.timeAt(0) };
      m.last = { id: this.codec.encode(ix.seqAt(last)), when: ix.timeAt(last) };
    }
    return m;
  }

  /** Index positions of the oldest items to delete so that at most `keep` remain / none is older than `before`. */
  dropCount(opts: { keep?: number; before?: number }): number {
    const ix = this.index;
    let n = 0;
    if (opts.keep !== undefined) n = Math.max(n, ix.length - Math.max(0, Math.floor(opts.keep)));
    if (opts.before !== undefined) n = Math.max(n, ix.countBefore(opts.before));
    return n;
  }
}

/** The page of an owner without an archive: empty, or item-not-found for an after/before id. */
export function emptyPage(q: { after?: string; before?: string | true }): { items: never[]; count: 0; index: 0; complete: true } {
  const id = q.after ?? (typeof q.before === 'string' ? q.before : undefined);
  if (id !== undefined) throw new ArchiveItemNotFoundError(id);
  return { items: [], count: 0, index: 0, complete: true };
}
