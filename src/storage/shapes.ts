// Every store Clove opens, by name and shape, for commands that copy whole backends (clove
// migrate-storage): a store's shape is not written in the files, and a map read as a keyval would
// miss its change log. test/unit/storage/shapes.test.ts fails when src/ opens a store not listed.

/** The shape of each store name. */
export const STORE_SHAPES: Readonly<Record<string, 'keyval' | 'map' | 'archive'>> = {
  accounts: 'keyval',
  archive: 'archive',
  archive_prefs: 'keyval',
  blocklist: 'keyval',
  import_prosody: 'keyval',
  invite_token: 'keyval',
  lastactivity: 'keyval',
  muc_log: 'archive',
  muc_occupant_id: 'keyval',
  muc_rooms: 'keyval',
  offline: 'keyval',
  pep: 'map',
  private: 'map',
  pubsub: 'map',
  roster: 'keyval',
  s2s_queue: 'keyval',
  vcard: 'keyval',
};
