// Group commit: callers that ask for a write while one is running share the next write, so a
// burst of N queued messages costs two writes, not N. Every caller's promise resolves only
// after a write that started after its call, so what it queued is durable when it resolves.

/** Runs `write` at most once at a time; calls during a run share one follow-up run. */
export class BatchWriter {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly write: () => Promise<void>) {}

  /** No write is running or waiting. */
  get idle(): boolean {
    return !this.running && !this.next;
  }

  /** Resolves after a write that began after this call (rejects if that write failed). */
  request(): Promise<void> {
    if (this.next) return this.next;
    if (!this.running) return (this.running = this.run());
    this.next = this.running.catch(() => {}).then(() => {
      this.next = undefined;
      return (this.running = this.run());
    });
    return this.next;
  }

  private async run(): Promise<void> {
    try {
      await this.write();
    } finally {
      this.running = undefined;
    }
  }
}
