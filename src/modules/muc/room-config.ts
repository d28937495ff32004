// A room's configuration: the values the owner form (muc#roomconfig) sets, their defaults
// from the muc_room_default_* options, and how big each may be.
// References: XEP-0045 §10.2 (configuration), §15.5.3 (muc#roomconfig FORM_TYPE).

export type Whois = 'moderators' | 'anyone';
export type PmPolicy = 'anyone' | 'participants' | 'moderators' | 'none';

export interface RoomConfig {
  name: string;
  description: string;
  language: string;
  persistent: boolean;
  public: boolean;
  membersOnly: boolean;
  moderated: boolean;
  /** '' when the room has no password. */
  password: string;
  whois: Whois;
  /** Most occupants; the component's muc_max_occupants caps it. */
  maxUsers: number;
  historyLength: number;
  allowInvites: boolean;
  changeSubject: boolean;
  allowNickChange: boolean;
  voiceRequests: boolean;
  allowPm: PmPolicy;
  /** Archive the room's messages (muc#roomconfig_enablearchiving; only with muc_mam loaded). */
  archiving: boolean;
}

/** Field sizes a config may have (bytes as UTF-8; docs/limits.md). */
export const FIELD_BYTES = { name: 256, description: 2048, language: 32, password: 256 } as const;

/** The defaults new rooms start with (from the component's muc_room_default_* options). */
export type RoomDefaults = RoomConfig;

/** A stored config made whole: fields added since come from the defaults. */
export function normalise(stored: Partial<RoomConfig> | undefined, defaults: RoomDefaults): RoomConfig {
  return { ...defaults, ...(stored ?? {}) };
}
