// `clove check config`: what Clove makes of every statement of the config and the files it
// includes (an option it acts on, one it accepts and ignores, one it does not know, a section, an
// Include, a local), then the warnings. Only errors fail: a ConfigError is thrown while loading.
import type { Config } from '../config/config.js';
import { formatReport, summariseReport } from '../config/report.js';

/** Print the per-statement report to stdout and its summary; returns the exit code (0). */
export function printConfigReport(config: Config): number {
  for (const line of formatReport(config.report)) process.stdout.write(`${line}\n`);
  process.stdout.write(`${config.file}: ${config.report.length} statement(s): ${summariseReport(config.report)}\n`);
  return 0;
}
