// What the upload service holds on disk and in flight, against its global bounds: bytes stored
// (http_file_share_global_quota), uploads at once and the bytes they reserve.

/** Uploads streaming at once per service; one more gets 503. */
export const MAX_UPLOADS = 32;
/** Smallest charge per file, in bytes (a file system block and its description): a million 1-byte files cost what they cost the disk. */
export const MIN_CHARGE = 4096;

/** Bytes a file of `size` bytes counts for, against quotas. */
export function charge(size: number): number {
  return Math.max(size, MIN_CHARGE);
}

/** Bytes stored and reserved by uploads in progress, with the ids being written. */
export class Usage {
  stored = 0;
  private reserved = 0;
  private readonly writing = new Set<string>();

  constructor(private readonly globalQuota: number, private readonly maxUploads = MAX_UPLOADS) {}

  /** Whether `bytes` more fit under the global quota, counting uploads in progress. */
  fits(bytes: number): boolean {
    return this.stored + this.reserved + bytes <= this.globalQuota;
  }

  /** Whether `id` is being written now. */
  busy(id: string): boolean {
    return this.writing.has(id);
  }

  /** Start writing `id`, reserving `bytes`: the HTTP status that refuses it, or undefined when it may go ahead. */
  begin(id: string, bytes: number): 503 | 507 | 409 | undefined {
    if (this.writing.has(id)) return 409;
    if (this.writing.size >= this.maxUploads) return 503;
    if (!this.fits(bytes)) return 507;
    this.writing.add(id);
    this.reserved += bytes;
    return undefined;
  }

  /** The upload of `id` ended; `kept` when its file was stored. */
  end(id: string, bytes: number, kept: boolean): void {
    if (!this.writing.delete(id)) return;
    this.reserved -= bytes;
    if (kept) this.stored += bytes;
  }

  /** A stored file of `bytes` (its charge) was removed. */
  removed(bytes: number): void {
    this.stored = Math.max(0, this.stored - bytes);
  }
}
