// Logging with pino. Level and destinations come from the config's `log` option.
// Rule 7 of the house: never pass passwords, SASL payloads or message bodies to a logger.
import { pino, type Logger, type StreamEntry, type Level } from 'pino';
import type { LogTarget } from '../config/schema.js';

export type { Logger } from 'pino';

/**
 * Create the root logger for a list of targets. Console output goes to stderr so that
 * stdout stays free for command output; files are appended asynchronously.
 */
export function createLogger(targets: readonly LogTarget[], opts: { name?: string } = {}): { log: Logger; warnings: string[]; flush(): void; reopen(): void } {
  const warnings: string[] = [];
  const streams: StreamEntry[] = [];
  const dests: { flushSync?: () => void }[] = [];
  const files: { reopen(): void }[] = [];
  for (const t of targets) {
    let dest;
    if (t.to === 'console') dest = pino.destination({ fd: 2, sync: false });
    else if (t.to === 'syslog') {
      // TODO: syslog through /dev/log arrives with the operations issue; until then say so once.
      warnings.push('log: "*syslog" is not supported yet; logging to the console instead');
      dest = pino.destination({ fd: 2, sync: false });
    } else {
      dest = pino.destination({ dest: t.to, sync: false, mkdir: true });
      files.push(dest);
    }
    dests.push(dest);
    streams.push({ level: t.level as Level, stream: dest });
  }
  if (streams.length === 0) {
    const dest = pino.destination({ fd: 2, sync: false });
    dests.push(dest);
    streams.push({ level: 'info', stream: dest });
  }
  const lowest = streams.reduce<Level>((lo, s) => (rank(s.level as Level) < rank(lo) ? (s.level as Level) : lo), 'fatal');
  const log = pino({ name: opts.name ?? 'clove', level: lowest, base: undefined }, pino.multistream(streams));
  return {
    log,
    warnings,
    flush() {
      for (const d of dests) {
        try { d.flushSync?.(); } catch { /* destination not ready yet: nothing buffered */ }
      }
    },
    /** Reopen log files by path (after logrotate moved them away). */
    reopen() {
      for (const f of files) {
        try { f.reopen(); } catch { /* the next write reports it */ }
      }
    },
  };
}

const RANKS: Record<Level, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const rank = (l: Level): number => RANKS[l];

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
