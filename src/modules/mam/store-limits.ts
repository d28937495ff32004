// The bounds of an archive store (docs/limits.md), read the same way by the account archive (mam)
// and the room archive (muc_mam): storage_archive_item_limit items and archive_max_bytes bytes per owner.
import type { ModuleContext } from '../../core/modules.js';
import type { ArchiveLimits } from '../../storage/store.js';

/** The per-owner item and byte limits of an archive store, from the host's options. */
export function archiveLimits(ctx: ModuleContext): ArchiveLimits {
  return {
    maxItems: ctx.option.number('storage_archive_item_limit', 10_000, { min: 10, max: 10_000_000, integer: true }),
    maxBytes: ctx.option.number('archive_max_bytes', 64 * 1024 * 1024, { min: 1024 * 1024, max: 64 * 1024 * 1024 * 1024, integer: true }),
  };
}
