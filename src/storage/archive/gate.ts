// Shared/exclusive access to one owner's archive: queries and writes run together, a deletion
// (which moves or removes records under them) runs alone once they are done.

/** Shared/exclusive gate: many queries and writes at once, or one deletion alone. */
export class Gate {
  private shared = 0;
  private exclusive: Promise<void> | undefined;
  private idle: Array<() => void> = [];

  /** Run f alongside other shared users, after any exclusive one. */
  async share<R>(f: () => Promise<R>): Promise<R> {
    while (this.exclusive) await this.exclusive;
    this.shared++;
    try {
      return await f();
    } finally {
      if (--this.shared === 0) for (const w of this.idle.splice(0)) w();
    }
  }

  /** Run f alone: waits for the shared users to finish; new ones wait for f. */
  async alone<R>(f: () => Promise<R>): Promise<R> {
    while (this.exclusive) await this.exclusive;
    let done!: () => void;
    this.exclusive = new Promise<void>((r) => (done = r));
    try {
      while (this.shared > 0) await new Promise<void>((r) => this.idle.push(r));
      return await f();
    } finally {
      this.exclusive = undefined;
      done();
    }
  }

  /** True while anyone holds or waits for the gate exclusively, or shares it. */
  get busy(): boolean {
    return this.shared > 0 || this.exclusive !== undefined;
  }
}
