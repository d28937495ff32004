// Reloading the config file under a running server (SIGHUP, or an administrator's "reload"
// command): re-read and validate it, apply what can change without dropping anyone (log level,
// hosts added or removed, certificates — re-read even when the config is unchanged, since a
// renewed certificate at the same path is the usual reason — modules loaded and unloaded, the
// registration switch, darknet routing, per-host security options), and say in one log line
// what changed and what waits for a restart.
// A config that no longer parses, or that gives a loaded module a bad option value (each module's
// option reads are checked again first), is reported in one line and ignored: the running one
// stays, all of it.
import { EMBEDDED_DEFAULT, loadConfig, type Config } from '../config/config.js';
import { appliedLive, changedOptions } from '../config/changes.js';
import type { Logger } from './log.js';
import type { LogTarget } from '../config/schema.js';

export interface ReloadReport {
  added: string[];
  removed: string[];
  /** Hosts whose certificate changed (new fingerprint). */
  certificates: string[];
  /** Per host whose modules changed: `host: loaded a, b; unloaded c`. */
  modules: string[];
  /** One line per thing that could not be applied; the running state is kept for it. */
  errors: string[];
}

export interface ReloadOutcome {
  file: string;
  /** Set when the file could not be read or parsed; nothing was applied. */
  error?: string;
  warnings: string[];
  /** Every option that differs (changedOptions format). */
  changed: string[];
  /** Those of `changed` that wait for a restart. */
  later: string[];
  report: ReloadReport;
}

/** What a reload needs from the running server (src/main.ts). */
export interface Reloadable {
  readonly config: Config;
  readonly log: Logger;
  /** The config the server started with: what a restart-only option is compared against. */
  readonly startConfig: Config;
  /** New levels for the same log destinations; false when the destinations differ. */
  setLogLevels(targets: readonly LogTarget[]): boolean;
  /** The running hosts: their loaded modules check their options against a candidate config. */
  readonly hosts: ReadonlyMap<string, { checkOptions(config: Config): void }>;
  /** Make `next` the running config: hosts, certificates, per-host options; modules are told. */
  apply(next: Config, changed: string[]): Promise<ReloadReport>;
}

/** Check the loaded modules' options of every host that `next` keeps; throws the first bad one. */
function checkModuleOptions(server: Reloadable, next: Config): void {
  const kept = next.virtualHosts().filter((h) => next.get<boolean>('enabled', h) !== false);
  for (const [name, host] of server.hosts) if (kept.includes(name)) host.checkOptions(next);
}

/** Re-read the server's config file and apply it; `via` names who asked, for the log. */
export async function reloadFromFile(server: Reloadable, via: string): Promise<ReloadOutcome> {
  const { log } = server;
  const running = server.config;
  const outcome: ReloadOutcome = { file: running.file, warnings: [], changed: [], later: [], report: { added: [], removed: [], certificates: [], modules: [], errors: [] } };
  if (running.file === EMBEDDED_DEFAULT) {
    outcome.error = 'running on the embedded default config: there is no file to reload';
    log.info(`${via}: ${outcome.error}`);
    return outcome;
  }
  let next: Config;
  try {
    next = await loadConfig(running.file);
    checkModuleOptions(server, next);
  } catch (err) {
    outcome.error = (err as Error).message;
    log.error(`${via}: config reload failed, keeping the running config: ${outcome.error}`);
    return outcome;
  }
  outcome.warnings = [...next.warnings];
  for (const w of next.warnings) log.warn(w);
  outcome.changed = changedOptions(running, next);
  // Against the start config, so an option that needs a restart is named by every reload until then.
  outcome.later = changedOptions(server.startConfig, next).filter((c) => !appliedLive(c));
  // Levels apply at once; new destinations (another file, syslog) wait for a restart.
  if (!server.setLogLevels(next.get<LogTarget[]>('log')) && !outcome.later.includes('log')) outcome.later.push('log');
  outcome.report = await server.apply(next, outcome.changed);
  const { changed, later, report } = outcome;
  const certs = report.certificates.length ? `; new certificate for ${report.certificates.join(', ')}` : '';
  const waiting = later.length ? `; these apply after a restart (clove restart): ${later.join(', ')}` : report.errors.length ? '; some could not be applied (below)' : '; all applied';
  if (changed.length === 0 && later.length === 0) log.info(`${via}: config ${running.file} reloaded; nothing changed${certs}`);
  else log.warn({ changed, later }, `${via}: config ${running.file} reloaded; ${changed.length ? `changed: ${changed.join(', ')}` : 'nothing changed'}${waiting}${certs}`);
  for (const e of report.errors) log.error(`${via}: not applied: ${e}`);
  return outcome;
}
