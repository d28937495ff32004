// The muc component's options: Prosody's names where Prosody has the option
// (restrict_room_creation, muc_max_rooms, max_history_messages, muc_room_default_*,
// muc_room_locking, muc_room_lock_timeout), Clove's own for the bounds Prosody leaves open.
import type { ModuleContext } from '../../core/modules.js';
import { tryParseJid } from '../../jid/jid.js';
import type { RoomConfig } from './room-config.js';
import type { CreationPolicy, MucLimits } from './service.js';

/** Bytes of one occupant session's stored presence (docs/limits.md). */
export const PRESENCE_BYTES = 16 * 1024;
/** Bytes of stored occupant presence over all rooms of one service (docs/limits.md). */
export const TOTAL_PRESENCE_BYTES = 64 * 1024 * 1024;

/** The component's limits, read once at setup. */
export function readLimits(ctx: ModuleContext): MucLimits {
  const n = ctx.option.number;
  const rate = n('muc_event_rate', 2, { min: 0.01, max: 1000 });
  return {
    maxRooms: n('muc_max_rooms', 1000, { min: 1, max: 1_000_000 }),
    maxRoomsPerUser: n('muc_max_rooms_per_user', 20, { min: 1, max: 100_000 }),
    maxOccupants: n('muc_max_occupants', 500, { min: 1, max: 100_000 }),
    maxHistory: n('max_history_messages', 100, { min: 0, max: 10_000 }),
    historyBytes: n('muc_max_history_bytes', 256 * 1024, { min: 0, max: 64 * 1024 * 1024 }),
    eventRate: rate,
    burst: Math.max(1, rate * n('muc_burst_factor', 5, { min: 1, max: 1000 })),
    subjectBytes: n('muc_max_subject_bytes', 4096, { min: 16, max: 256 * 1024 }),
    maxAffiliations: n('muc_max_affiliations', 2000, { min: 1, max: 1_000_000 }),
    presenceBytes: PRESENCE_BYTES,
    totalPresenceBytes: TOTAL_PRESENCE_BYTES,
    locking: ctx.option.boolean('muc_room_locking', true),
    lockTimeoutMs: n('muc_room_lock_timeout', 300, { min: 1, max: 86400 }) * 1000,
  };
}

/** What new rooms start with (Prosody's muc_room_default_* options and defaults). */
export function readDefaults(ctx: ModuleContext, limits: MucLimits): RoomConfig {
  const b = ctx.option.boolean;
  return {
    name: '',
    description: '',
    language: ctx.option.string('muc_room_default_language', ''),
    persistent: b('muc_room_default_persistent', false),
    public: b('muc_room_default_public', true),
    membersOnly: b('muc_room_default_members_only', false),
    moderated: b('muc_room_default_moderated', false),
    password: '',
    whois: b('muc_room_default_public_jids', false) ? 'anyone' : 'moderators',
    maxUsers: limits.maxOccupants,
    historyLength: Math.min(ctx.option.number('muc_room_default_history_length', 20, { min: 0, max: 10_000 }), limits.maxHistory),
    allowInvites: b('muc_room_default_allow_member_invites', false),
    changeSubject: b('muc_room_default_change_subject', false),
    allowNickChange: true,
    voiceRequests: true,
    allowPm: 'anyone',
    // Prosody's muc_log_by_default: a room archives unless its owner turns it off.
    archiving: true,
  };
}

/** Who may create rooms (restrict_room_creation, with `admins` of the component and globally). */
export function readCreation(ctx: ModuleContext): CreationPolicy {
  const mode = ctx.option.get<'anyone' | 'admin' | 'local'>('restrict_room_creation');
  const admins = new Set<string>();
  for (const s of ctx.option.list('admins', [])) {
    const j = tryParseJid(s);
    if (j) admins.add(j.bare().toString());
    else ctx.log.warn({ jid: s }, 'not a JID in admins; ignored');
  }
  const host = ctx.host.name;
  return { mode, admins, parent: host.slice(host.indexOf('.') + 1) };
}
