// Retention (Prosody's archive_expires_after): messages older than the limit are deleted by a
// periodic sweep, off the hot path of routing, through the store's deleteOlderThan. Time comes
// from a MamClock so tests move it instead of sleeping: the module takes the clock as a
// parameter (createMam), the shipped module uses the system clock with an unref'd interval.

/** Where the archive module gets the time and its periodic sweep from. */
export interface MamClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Call `run` every `ms` until the returned function is called; must not keep the process alive. */
  every(ms: number, run: () => void): () => void;
}

/** The real clock. */
export const systemClock: MamClock = {
  now: () => Date.now(),
  every(ms, run) {
    const t = setInterval(run, ms);
    t.unref();
    return () => clearInterval(t);
  },
};

/** How often the sweep runs: hourly, or more often for a shorter retention (never below a minute). */
export function sweepInterval(expiresMs: number): number {
  return Math.max(60_000, Math.min(3_600_000, Math.floor(expiresMs / 4)));
}

/** Start the sweep; returns the function that stops it. One sweep at a time; failures are logged by `onError`. */
export function startExpiry(
  expiresSeconds: number,
  clock: MamClock,
  deleteOlderThan: (before: number) => Promise<number>,
  report: (deleted: number) => void,
  onError: (err: unknown) => void,
): () => void {
  if (!Number.isFinite(expiresSeconds)) return () => {};
  const expiresMs = expiresSeconds * 1000;
  let running = false;
  return clock.every(sweepInterval(expiresMs), () => {
    if (running) return;
    running = true;
    deleteOlderThan(clock.now() - expiresMs)
      .then((n) => { if (n > 0) report(n); }, onError)
      .finally(() => { running = false; });
  });
}
