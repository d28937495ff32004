// The "reload configuration" admin command, honest about what it does today: it re-reads and
// checks the config file the server started with and says which options differ from the
// running configuration. It applies none of them: Clove cannot change its configuration
// while it runs yet, so the running server keeps what it started with until it is restarted.
// References: XEP-0050 (notes), XEP-0004 (the result form).
import { loadConfig, EMBEDDED_DEFAULT, type Config } from '../config/config.js';
import { ConfigError } from '../config/errors.js';
import { SCHEMA } from '../config/schema.js';
import { NS } from '../xml/ns.js';
import { formElement } from './dataforms.js';
import type { CommandOutcome } from './adhoc.js';

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Options (and VirtualHosts) whose value differs between two configs; never their values. */
export function changedOptions(running: Config, fresh: Config): string[] {
  const out: string[] = [];
  const globalChanged = new Set<string>();
  for (const spec of SCHEMA) {
    if (spec.scope === 'host' || same(running.get(spec.name), fresh.get(spec.name))) continue;
    globalChanged.add(spec.name);
    out.push(spec.name);
  }
  const before = running.virtualHosts();
  const after = fresh.virtualHosts();
  for (const h of after) if (!before.includes(h)) out.push(`VirtualHost "${h}" (added)`);
  for (const h of before) {
    if (!after.includes(h)) {
      out.push(`VirtualHost "${h}" (removed)`);
      continue;
    }
    for (const spec of SCHEMA) {
      if (spec.scope === 'global' || globalChanged.has(spec.name)) continue;
      if (!same(running.get(spec.name, h), fresh.get(spec.name, h))) out.push(`${spec.name} (VirtualHost "${h}")`);
    }
  }
  return out;
}

/** Re-read and check the config file; report what differs and that nothing was applied. */
export async function reloadConfig(running: Config): Promise<CommandOutcome> {
  if (running.file === EMBEDDED_DEFAULT) {
    return { note: 'Clove was started without a config file (built-in defaults): there is nothing to re-read. Nothing was changed.' };
  }
  let fresh: Config;
  try {
    fresh = await loadConfig(running.file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { noteType: 'error', note: `${err.message}. Nothing was applied: the server keeps running with the configuration it started with.` };
  }
  const changed = changedOptions(running, fresh);
  const payload = formElement('result', {
    formType: NS.ADMIN,
    fields: [
      { var: 'file', type: 'text-single', label: 'Config file', values: [running.file] },
      { var: 'changed', type: 'text-multi', label: 'Differs from the running configuration (not applied)', values: changed },
      { var: 'warnings', type: 'text-multi', label: 'Warnings', values: [...fresh.warnings] },
    ],
  });
  if (changed.length === 0) {
    return { payload, note: `${running.file} is valid${fresh.warnings.length ? ` (${fresh.warnings.length} warning(s))` : ''} and matches the running configuration: nothing to apply.` };
  }
  return {
    payload,
    noteType: 'warn',
    note: `${running.file} is valid${fresh.warnings.length ? ` (${fresh.warnings.length} warning(s))` : ''}, but nothing was applied: Clove cannot change its configuration while it runs yet. Restart the server to apply: ${changed.join(', ')}.`,
  };
}
