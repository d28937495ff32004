// A memory storage backend whose archive appends wait on a gate the test holds and opens: how the
// MAM tests show that delivery and XEP-0198 acknowledgement wait for the archive to be durable.
import { createMemoryBackend } from '../../src/storage/memory.js';
import type { ArchiveStore, StorageBackend } from '../../src/storage/store.js';

/**
 * `before-queue`: an append waits for the gate before the store even takes it (a slow disk in
 * front of the queue). `before-durable`: the store takes it (its place in the owner's order is
 * fixed) and only its durability waits for the gate.
 */
export class GatedArchive {
  /** Appends the store took since the test last set this. */
  appends = 0;
  private gate: Promise<void> = Promise.resolve();
  private release: () => void = () => undefined;

  constructor(private readonly mode: 'before-queue' | 'before-durable') {}

  /** Appends from now on wait until open(). */
  hold(): void {
    this.gate = new Promise((resolve) => (this.release = resolve));
  }

  /** Let every held append through. */
  open(): void {
    this.release();
  }

  /** The backend to start the test server with. */
  backend(): StorageBackend {
    const inner = createMemoryBackend();
    return {
      keyval: (h, s) => inner.keyval(h, s),
      map: (h, s) => inner.map(h, s),
      close: () => inner.close(),
      archive: (h, s, limits): ArchiveStore => {
        const a = inner.archive(h, s, limits);
        const append: ArchiveStore['append'] =
          this.mode === 'before-queue'
            ? async (owner, item, queued) => {
                await this.gate;
                this.appends++;
                return a.append(owner, item, queued);
              }
            : (owner, item, queued) => {
                this.appends++;
                const id = a.append(owner, item, queued);
                return this.gate.then(() => id);
              };
        return { ...a, append };
      },
    };
  }
}
