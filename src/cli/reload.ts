// SIGHUP: re-read and validate the config file. Nothing is applied to the running server yet
// (modules read their options once, at load): the reload names the options that changed and says
// they take effect after a restart; a config that no longer parses is reported and ignored.
import { EMBEDDED_DEFAULT, loadConfig, type Config } from '../config/config.js';
import { SCHEMA } from '../config/schema.js';
import type { Logger } from '../core/log.js';

function value(config: Config, name: string, host?: string): string {
  try {
    return JSON.stringify(config.get(name, host)) ?? 'undefined';
  } catch {
    return 'undefined';
  }
}

/** The options (as `name` or `name@host`) whose value differs between two configs. */
export function changedOptions(before: Config, after: Config): string[] {
  const out: string[] = [];
  const hostsBefore = before.virtualHosts();
  const hostsAfter = after.virtualHosts();
  for (const h of hostsAfter) if (!hostsBefore.includes(h)) out.push(`VirtualHost "${h}" (added)`);
  for (const h of hostsBefore) if (!hostsAfter.includes(h)) out.push(`VirtualHost "${h}" (removed)`);
  for (const spec of SCHEMA) {
    if (spec.scope !== 'host' && value(before, spec.name) !== value(after, spec.name)) out.push(spec.name);
    if (spec.scope === 'global') continue;
    for (const h of hostsAfter) {
      if (!hostsBefore.includes(h)) continue;
      if (before.setIn(spec.name, h) !== 'host' && after.setIn(spec.name, h) !== 'host') continue;
      if (value(before, spec.name, h) !== value(after, spec.name, h)) out.push(`${spec.name}@${h}`);
    }
  }
  return out;
}

/** Handle SIGHUP for a running server started from `config`; returns the function that stops handling it. */
export function handleReload(config: Config, log: Logger, reopenLogs: () => void, hosts: ReadonlyMap<string, { events: { fire(e: 'config-reloaded', p: { config: Config; changed: string[] }): unknown } }> = new Map()): () => void {
  let current = config;
  const onHup = (): void => {
    // First, so lines about the reload land in the new file after logrotate moved the old one.
    reopenLogs();
    void (async () => {
      if (current.file === EMBEDDED_DEFAULT) {
        log.info('SIGHUP: running on the embedded default config; there is no file to reload');
        return;
      }
      let next: Config;
      try {
        next = await loadConfig(current.file);
      } catch (err) {
        log.error(`SIGHUP: config reload failed, keeping the running config: ${(err as Error).message}`);
        return;
      }
      for (const w of next.warnings) log.warn(w);
      const changed = changedOptions(current, next);
      // Applied live: allow_registration (the register module) and the log level; the rest
      // (hosts, listeners, certificates, modules) needs a restart.
      const live = new Set(['allow_registration', 'log']);
      const later = changed.filter((c) => !live.has(c.split('@')[0] as string));
      if (changed.length === 0) log.info(`SIGHUP: config ${current.file} reloaded; nothing changed`);
      else log.warn({ changed }, `SIGHUP: config ${current.file} reloaded; changed: ${changed.join(', ')}${later.length ? `; these apply after a restart (clove restart): ${later.join(', ')}` : '; all applied'}`);
      const levels = next.get<{ level: string }[]>('log').map((t) => t.level);
      const order = ['debug', 'info', 'warn', 'error'];
      const lowest = levels.sort((a, b) => order.indexOf(a) - order.indexOf(b))[0];
      if (lowest && lowest !== log.level) log.level = lowest;
      current = next;
      for (const host of hosts.values()) await host.events.fire('config-reloaded', { config: next, changed });
    })();
  };
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}
