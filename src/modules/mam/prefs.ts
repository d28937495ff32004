// Archiving preferences (XEP-0313 §6 "prefs"), as Prosody's mam_prefs: a default (always, never,
// roster) and per-JID always/never lists; a JID in both lists is never archived. Stored per
// account in the 'archive_prefs' keyval store, bounded in JIDs, and cached for the accounts
// that send and receive messages now.
import { x, type Element } from '../../xml/element.js';
import { tryParseJid } from '../../jid/jid.js';
import { StanzaError } from '../../core/errors.js';

export type DefaultPolicy = 'always' | 'never' | 'roster';

/** One account's preferences as stored. */
export interface ArchivePrefs {
  default: DefaultPolicy;
  always: string[];
  never: string[];
}

/** Most JIDs in an account's always and never lists together. */
export const MAX_PREFS_JIDS = 1000;

const POLICIES = new Set<string>(['always', 'never', 'roster']);

/** The preferences of an account that never set any, with Prosody's default_archive_policy (true): archive everything. */
export const DEFAULT_PREFS: ArchivePrefs = Object.freeze({ default: 'always', always: [], never: [] }) as ArchivePrefs;

/** Prepared JIDs listed under <always/> or <never/>; invalid ones are skipped, as Prosody does. */
function jids(list: Element | undefined): string[] {
  const out = new Set<string>();
  for (const j of list?.getChildren('jid') ?? []) {
    const jid = tryParseJid(j.text().trim());
    if (jid) out.add(jid.toString());
  }
  return [...out];
}

/** Read a <prefs/> set; an unknown default is bad-request, too many JIDs policy-violation. */
export function parsePrefs(el: Element, current: ArchivePrefs): ArchivePrefs {
  const d = el.attrs.default;
  if (d !== undefined && !POLICIES.has(d)) throw new StanzaError('bad-request', "default must be 'always', 'never' or 'roster'");
  const never = jids(el.getChild('never'));
  const blocked = new Set(never);
  const always = jids(el.getChild('always')).filter((j) => !blocked.has(j));
  if (always.length + never.length > MAX_PREFS_JIDS) throw new StanzaError('policy-violation', `at most ${MAX_PREFS_JIDS} JIDs in the archiving preferences`);
  return { default: (d as DefaultPolicy | undefined) ?? current.default, always, never };
}

/** The <prefs/> element for a result. */
export function prefsElement(ns: string, p: ArchivePrefs): Element {
  return x('prefs', { xmlns: ns, default: p.default },
    x('always', null, ...p.always.map((j) => x('jid', null, j))),
    x('never', null, ...p.never.map((j) => x('jid', null, j))));
}

/** Stored preferences, checked (a damaged record counts as `defaults`). */
export function validPrefs(v: unknown, defaults: ArchivePrefs = DEFAULT_PREFS): ArchivePrefs {
  const p = v as Partial<ArchivePrefs> | undefined;
  if (!p || typeof p !== 'object' || !POLICIES.has(String(p.default)) || !Array.isArray(p.always) || !Array.isArray(p.never)) return defaults;
  return { default: p.default as DefaultPolicy, always: p.always.map(String), never: p.never.map(String) };
}

/**
 * What the preferences say about archiving a message with `withBare` (a bare JID):
 * 'roster' means "if the contact is in the roster", which the caller checks.
 */
export function prefsRule(p: ArchivePrefs, withBare: string): boolean | 'roster' {
  if (p.never.includes(withBare)) return false;
  if (p.always.includes(withBare)) return true;
  return p.default === 'roster' ? 'roster' : p.default === 'always';
}

/** The preferences of an account that set none, for a default policy (the default_archive_policy option). */
export function defaultPrefs(policy: DefaultPolicy): ArchivePrefs {
  return policy === DEFAULT_PREFS.default ? DEFAULT_PREFS : (Object.freeze({ default: policy, always: [], never: [] }) as ArchivePrefs);
}
