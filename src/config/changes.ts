// What differs between the running config and a re-read one, and which of those differences a
// reload applies to the running server (SIGHUP and the admin "reload" command share this).
import { SCHEMA } from './schema.js';
import type { Config, HostSection } from './config.js';

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Options (and VirtualHosts) whose value differs between two configs, never their values:
 * `name` for a global difference, `name (VirtualHost "h")` for one host (or Component), `VirtualHost "h" (added)`.
 */
export function changedOptions(running: Config, fresh: Config): string[] {
  const out: string[] = [];
  const globalChanged = new Set<string>();
  for (const spec of SCHEMA) {
    if (spec.scope === 'host' || same(running.get(spec.name), fresh.get(spec.name))) continue;
    globalChanged.add(spec.name);
    out.push(spec.name);
  }
  // VirtualHosts and Components alike: `VirtualHost "h"`, `Component "h"`, `Component "h" "muc"`.
  const named = (h: HostSection): string => `${h.kind} "${h.name}"`;
  const label = (h: HostSection): string => (h.component ? `${named(h)} "${h.component}"` : named(h));
  const before = new Map(running.hosts.map((h) => [h.name, h]));
  const after = new Map(fresh.hosts.map((h) => [h.name, h]));
  for (const [h, section] of after) if (!before.has(h)) out.push(`${label(section)} (added)`);
  for (const [h, section] of before) {
    const now = after.get(h);
    if (!now || label(now) !== label(section)) {
      out.push(`${label(section)} (removed)`);
      if (now) out.push(`${label(now)} (added)`);
      continue;
    }
    for (const spec of SCHEMA) {
      if (spec.scope === 'global' || globalChanged.has(spec.name)) continue;
      if (!same(running.get(spec.name, h), fresh.get(spec.name, h))) out.push(`${spec.name} (${named(section)})`);
    }
  }
  return out;
}

/**
 * Options a reload applies to the running server. Per-host security and s2s options are read for
 * every new stream, so they apply from the next connection; modules are loaded and unloaded to
 * match modules_enabled/modules_disabled; options modules read with ctx.option.live (darknet
 * routing, registration, admins, version replies, smacks) take their new values; the rest
 * (listeners, other modules' options, storage, limits read at start) waits for `clove restart`.
 */
const LIVE = new Set([
  'component_secret', 'name',
  'allow_registration', 'log', 'enabled', 'ssl', 'certificates', 'modules_enabled', 'modules_disabled',
  'darknet_map', 'darknet_socks5_host', 'darknet_socks5_port',
  'c2s_require_encryption', 's2s_require_encryption', 's2s_secure_auth', 'darknet_only',
  's2s_connect_timeout', 's2s_timeout', 's2s_send_deadline', 's2s_idle_timeout',
  'c2s_max_connections', 'c2s_max_unauthenticated', 's2s_max_connections', 's2s_max_unauthenticated', 'max_resources',
  'admins', 'hide_os_type', 'version_to_remote', 'smacks_hibernation_time', 'smacks_max_queue_size',
  'allow_user_invites', 'allow_contact_invites',
]);

/** Whether one entry of changedOptions() is applied by a reload. */
export function appliedLive(change: string): boolean {
  return change.startsWith('VirtualHost ') || change.startsWith('Component ') || LIVE.has(change.split(' ')[0] as string);
}
