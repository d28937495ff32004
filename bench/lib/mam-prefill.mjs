// Archives for the MAM bench (bench/mam.mjs) written straight into Clove's archive store through
// its own file backend from dist/ (the same store the `mam` module opens: host, 'archive'): one
// user with a very large archive and many users with small ones. Going through the store, not
// the server, is what makes a million messages a set-up step of seconds rather than minutes; the
// bytes on disk are the same as the server writes. Messages are what the module stores: the
// message as XML, `with` = the other party's bare JID.

import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const BODY = 'Hello! This is a benchmark message of a fairly typical chat length.';

/** Deterministic pseudo-random numbers (the same data on every run). */
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** One archived chat message between `owner` and `other` (bare JIDs), as the module stores it. */
export function messageXml(owner, other, i, incoming) {
  const [from, to] = incoming ? [`${other}/phone`, owner] : [`${owner}/laptop`, other];
  return `<message xmlns='jabber:client' from='${from}' to='${to}' type='chat' id='m${i.toString(36)}'><body>${BODY} #${i}</body><origin-id xmlns='urn:xmpp:sid:0' id='o${i.toString(36)}-${owner.length}'/></message>`;
}

/**
 * Appends `n` messages to `owner` (user name) with contacts drawn from `contacts` (bare JIDs;
 * half the messages go to the first tenth of them), times spread over the last `spanMs` up to
 * now, `inFlight` appends outstanding. Returns every `keepEvery`-th id.
 */
async function fillOwner(store, owner, ownerJid, contacts, n, { spanMs, inFlight, keepEvery, seed }) {
  const rand = rng(seed);
  const now = Date.now();
  const ids = [];
  const hot = Math.max(1, Math.floor(contacts.length / 10));
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const other = rand() < 0.5 ? contacts[Math.floor(rand() * hot)] : contacts[Math.floor(rand() * contacts.length)];
      const id = await store.append(owner, { with: other, when: now - spanMs + Math.floor((i * spanMs) / n), payload: messageXml(ownerJid, other, i, i % 2 === 1) });
      if (i % keepEvery === 0) ids.push(id);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
  return ids;
}

/**
 * Writes the big archive (`bigUser`, `bigItems` messages with `bigContacts` contacts) and
 * `users` small ones (`perUser` messages each, 20 contacts). Returns the time taken and, for
 * the queries: ids of the big archive, its contacts, and for each of the `sample` first small
 * users some ids and its contacts.
 */
export async function prefillArchives(repo, dataPath, domain, { bigUser, bigItems, bigContacts, users, perUser, sample, say }) {
  const { createFileBackend } = await import(pathToFileURL(path.join(repo, 'dist', 'storage', 'file.js')).href);
  const backend = createFileBackend(dataPath);
  const limits = { maxItems: Math.max(bigItems, perUser) + 1, maxBytes: 2 ** 40 };
  const store = backend.archive(domain, 'archive', limits);
  const contactsOf = (k, seed) => Array.from({ length: k }, (_, j) => `contact${(j * 7919 + seed) % 100_000}@remote${j % 3}.example`);
  const t0 = performance.now();
  const big = { user: bigUser, contacts: contactsOf(bigContacts, 1) };
  big.ids = await fillOwner(store, bigUser, `${bigUser}@${domain}`, big.contacts, bigItems, { spanMs: 3 * 86_400_000, inFlight: 500, keepEvery: 97, seed: 7 });
  const bigMs = performance.now() - t0;
  say?.(`big archive: ${bigItems} messages for ${bigUser} in ${(bigMs / 1000).toFixed(1)} s`);

  const t1 = performance.now();
  const small = [];
  let nextUser = 0;
  const worker = async () => {
    for (;;) {
      const u = nextUser++;
      if (u >= users) return;
      const user = `small${u}`;
      const contacts = contactsOf(20, u);
      const ids = await fillOwner(store, user, `${user}@${domain}`, contacts, perUser, { spanMs: 86_400_000, inFlight: perUser, keepEvery: 5, seed: u + 11 });
      if (u < sample) small.push({ user, contacts, ids });
      if (u > 0 && u % 2000 === 0) say?.(`small archives: ${u}/${users}`);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  const smallMs = performance.now() - t1;
  say?.(`small archives: ${users} × ${perUser} messages in ${(smallMs / 1000).toFixed(1)} s`);
  const bigMeta = await store.metadata(bigUser);
  await backend.close();
  return { bigMs, smallMs, big, small, bigBytes: bigMeta.bytes, bigCount: bigMeta.count };
}
