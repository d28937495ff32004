// The routing part of `clove check`: which mode is in force (darknet only, or clearnet federation
// allowed) and how each darknet_map peer will be reached. Pure config reading: no DNS, no network.
import type { Config } from '../config/config.js';
import { darknetOptions } from '../modules/darknet.js';
import { resolveModules } from '../modules/resolve.js';

export interface RoutingReport { lines: string[]; warnings: string[] }

/** The routing lines for every enabled VirtualHost; throws ConfigError for bad darknet options. */
export function checkRouting(config: Config): RoutingReport {
  const report: RoutingReport = { lines: [], warnings: [] };
  const hosts = config.virtualHosts().filter((h) => config.get<boolean>('enabled', h) !== false);
  for (const host of hosts) {
    const opts = darknetOptions(config, host);
    const proxy = `the SOCKS5 proxy ${opts.proxyHost}:${opts.proxyPort}`;
    const written = config.lineOf('darknet_only', host);
    if (opts.only) {
      report.lines.push(`${host}: darknet only (darknet_only = true${written ? '' : ', the default'}): s2s goes only through ${proxy}; clearnet hosts are never dialled`);
    } else {
      report.lines.push(`${host}: clearnet federation ON (darknet_only = false): .i2p and mapped domains go through ${proxy}, any other domain is dialled directly`);
      report.warnings.push(`${config.where('darknet_only', host)}: ${host}: darknet_only = false: clearnet federation is on — a peer can make this server look up and connect to a host it names, which reveals this server's address`);
    }
    if (!resolveModules(config, host).load.includes('darknet')) {
      // Only the built-in part stays: .i2p names through the proxy; the map is not read.
      if (Object.keys(opts.map).length) report.warnings.push(`${config.file}: ${host}: the darknet module is in modules_disabled, so darknet_map is not used`);
      continue;
    }
    for (const domain of Object.keys(opts.map).sort()) {
      const target = opts.map[domain]!;
      report.lines.push(`${host}: darknet_map ${domain} → ${target.host}:${target.port} through ${proxy}`);
    }
  }
  return report;
}
