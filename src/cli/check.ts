// `clove check` and `clove check config`: the config as Clove reads it, module and component
// resolution (by name: no module's code is loaded), s2s routing and certificate files.
import type { Config } from '../config/config.js';
import { checkCerts, formatProblem, formatSummary } from './check-certs.js';
import { checkRouting } from './check-darknet.js';
import { printConfigReport } from './check-config.js';
import { resolveModules } from '../modules/resolve.js';
import { MODULE_IMPORTS } from '../modules/catalog.js';
import { resolveComponentModules } from '../component/modules.js';

/** The warnings `check` prints: the config's, and those of module and component resolution. */
function configWarnings(config: Config): string[] {
  const warnings = [...config.warnings];
  for (const host of config.virtualHosts()) {
    for (const w of resolveModules(config, host).warnings) if (!warnings.includes(w)) warnings.push(w);
  }
  // A component whose module Clove lacks still starts (it answers service-unavailable): a warning here.
  for (const section of config.components()) {
    const r = resolveComponentModules(config, section, MODULE_IMPORTS);
    // An external component's own module (XEP-0114 links) is built by src/main.ts, not in the catalog.
    const lines = section.component === undefined ? r.warnings : [...r.errors, ...r.warnings];
    for (const w of lines) if (!warnings.includes(w)) warnings.push(w);
  }
  return warnings;
}

/** `clove check config`: what Clove makes of each statement, then the warnings. */
export function configCheck(config: Config): number {
  printConfigReport(config);
  for (const w of configWarnings(config)) process.stderr.write(`warning: ${w}\n`);
  return 0;
}

/** `clove check`: the config, s2s routing and each host's certificate files (no network). */
export async function check(config: Config): Promise<number> {
  printConfigReport(config);
  const warnings = configWarnings(config);
  const routing = checkRouting(config);
  warnings.push(...routing.warnings);
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  const certs = await checkCerts(config);
  for (const p of certs.problems) process.stderr.write(`${formatProblem(p)}\n`);
  if (certs.problems.some((p) => p.level === 'error')) return 2;
  const components = config.components().map((c) => `${c.name} (${c.component ?? 'external'})`);
  const listed = components.length > 0 ? `; ${components.length} component(s): ${components.join(', ')}` : '';
  process.stdout.write(`${config.file}: OK (${config.virtualHosts().length} host(s): ${config.virtualHosts().join(', ')}${listed})\n`);
  for (const h of certs.hosts) process.stdout.write(`${formatSummary(h)}\n`);
  for (const l of routing.lines) process.stdout.write(`${l}\n`);
  return 0;
}
