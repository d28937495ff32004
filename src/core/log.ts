// Logging with pino. Level and destinations come from the config's `log` option.
// Rule 7 of the house: never pass passwords, SASL payloads or message bodies to a logger.
import { pino, type Logger, type StreamEntry, type Level, type DestinationStream } from 'pino';
import type { LogTarget } from '../config/schema.js';
import { SyslogDestination, type LineSink } from './syslog.js';

export type { Level, Logger } from 'pino';

export interface LoggerOptions {
  /** The `name` field of every line; default "clove". */
  name?: string;
  /** Unix socket of the local syslog for "*syslog" targets (option `syslog_socket`); default /dev/log. */
  syslogSocket?: string;
  /**
   * Told about problems found after start-up (syslog unavailable). Default: a warn line on the
   * console (stderr). Either way the text is also appended to `warnings`.
   */
  onWarning?: (msg: string) => void;
  /** Where console lines go instead of stderr (tests). */
  console?: LineSink;
  /** The logger(1) binary syslog goes through (tests); default /usr/bin/logger. */
  syslogCommand?: string;
}

export interface CloveLogger {
  log: Logger;
  /** Problems with the targets: those known at creation, and later ones as they happen. */
  warnings: string[];
  flush(): void;
  reopen(): void;
  /** Flush, and end the syslog child; console and files keep working. */
  close(): void;
  /**
   * A reload: apply new levels to the same destinations (by `to`, in any order). False, and
   * nothing changed, when the destinations differ: those need a restart.
   */
  setLevels(targets: readonly LogTarget[]): boolean;
}

/**
 * Create the root logger for a list of targets. Console output goes to stderr so that
 * stdout stays free for command output; files are appended asynchronously; syslog goes through
 * a `logger` child (see syslog.ts).
 */
export function createLogger(targets: readonly LogTarget[], opts: LoggerOptions = {}): CloveLogger {
  const name = opts.name ?? 'clove';
  const warnings: string[] = [];
  const streams: StreamEntry[] = [];
  const dests: { flushSync?: () => void }[] = [];
  const files: { reopen(): void }[] = [];
  let consoleDest: DestinationStream | undefined;
  const toConsole = (): DestinationStream => {
    if (!consoleDest) {
      if (opts.console) consoleDest = opts.console as DestinationStream;
      else {
        const d = pino.destination({ fd: 2, sync: false });
        dests.push(d);
        consoleDest = d;
      }
    }
    return consoleDest;
  };
  const warn = (msg: string): void => {
    warnings.push(msg);
    if (opts.onWarning) opts.onWarning(msg);
    else toConsole().write(JSON.stringify({ level: 40, time: Date.now(), name, msg }) + '\n');
  };
  let syslog: SyslogDestination | undefined;
  for (const t of targets) {
    let dest: DestinationStream;
    if (t.to === 'console') dest = toConsole();
    else if (t.to === 'syslog') {
      // Lines syslog cannot take go to the console, unless a console target already shows them.
      const shown = targets.some((c) => c.to === 'console' && rank(c.level as Level) <= rank(t.level as Level));
      syslog ??= new SyslogDestination({
        socket: opts.syslogSocket,
        tag: 'clove',
        fallback: shown ? null : toConsole(),
        onWarning: warn,
        command: opts.syslogCommand,
      });
      dest = syslog;
    } else {
      const d = pino.destination({ dest: t.to, sync: false, mkdir: true });
      files.push(d);
      dests.push(d);
      dest = d;
    }
    streams.push({ level: t.level as Level, stream: dest });
  }
  if (streams.length === 0) streams.push({ level: 'info', stream: toConsole() });
  /** Each target's destination, by its `to`, for a reload that changes only levels. */
  const destOf = targets.map((t, i) => ({ to: t.to, stream: streams[i]?.stream as DestinationStream }));
  const multi = pino.multistream(streams);
  const log = pino({ name, level: lowestOf(streams), base: undefined }, multi);
  const flush = (): void => {
    for (const d of dests) {
      try { d.flushSync?.(); } catch { /* destination not ready yet: nothing buffered */ }
    }
  };
  return {
    log,
    warnings,
    flush,
    /** Reopen log files by path (after logrotate moved them away). */
    reopen() {
      for (const f of files) {
        try { f.reopen(); } catch { /* the next write reports it */ }
      }
    },
    close() {
      flush();
      syslog?.close();
    },
    setLevels(next) {
      // Same destinations, new levels: match each new target to an unused old one by `to`.
      const unused = [...destOf];
      const entries: StreamEntry[] = [];
      for (const t of next) {
        const i = unused.findIndex((d) => d.to === t.to);
        if (i < 0) return false;
        entries.push({ level: t.level as Level, stream: (unused.splice(i, 1)[0] as { stream: DestinationStream }).stream });
      }
      if (unused.length > 0 || entries.length === 0) return false;
      // pino's multistream keeps its entries sorted by level; rebuild them through its add().
      (multi as unknown as { streams: unknown[] }).streams.length = 0;
      for (const e of entries) multi.add(e);
      log.level = lowestOf(entries);
      return true;
    },
  };
}

/** The lowest level of a set of stream entries: the root logger's level. */
function lowestOf(entries: readonly StreamEntry[]): Level {
  return entries.reduce<Level>((lo, s) => (rank(s.level as Level) < rank(lo) ? (s.level as Level) : lo), 'fatal');
}

const RANKS: Record<Level, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
const rank = (l: Level): number => RANKS[l];

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
