// Set-up for the PEP fan-out bench (bench/pep-fanout.mjs): mutual `both` rosters written straight
// into each server's storage (as bench/lib/accounts.mjs writes Prosody's accounts), and the
// entity capabilities (XEP-0115) the contacts announce so the server learns their +notify.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { prosodyPathEncode } from './accounts.mjs';

/** The PEP node the bench publishes to, and the caps node of the bench's client. */
export const PEP_NODE = 'urn:xmpp:clove:bench:fanout:0';
export const CAPS_NODE = 'https://clove.i2p/bench';

const IDENTITY = { category: 'client', type: 'pc', name: 'clove-bench' };
const FEATURES = ['http://jabber.org/protocol/caps', 'http://jabber.org/protocol/disco#info', PEP_NODE, `${PEP_NODE}+notify`].sort();

/** The XEP-0115 §5.1 verification string's SHA-1, base64: what the server may check. */
export function capsVer() {
  const s = `${IDENTITY.category}/${IDENTITY.type}//${IDENTITY.name}<` + FEATURES.map((f) => `${f}<`).join('');
  return crypto.createHash('sha1').update(s, 'utf8').digest('base64');
}

/** Available presence with the caps of a client interested in PEP_NODE. */
export function capsPresence(ver) {
  return `<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='${CAPS_NODE}' ver='${ver}'/></presence>`;
}

/** The answer to a disco#info request (`id`, `from`, `node` as asked). */
export function discoInfoReply(id, from, node) {
  const feats = FEATURES.map((f) => `<feature var='${f}'/>`).join('');
  return (
    `<iq type='result' id='${id}' to='${from}'><query xmlns='http://jabber.org/protocol/disco#info'${node ? ` node='${node}'` : ''}>` +
    `<identity category='${IDENTITY.category}' type='${IDENTITY.type}' name='${IDENTITY.name}'/>${feats}</query></iq>`
  );
}

const lua = (s) => JSON.stringify(s); // our JIDs are ASCII: JSON quoting is Lua quoting

/** Prosody 0.12's roster records (data/<host>/roster/<user>.dat): publisher ↔ each contact, `both`. */
export function writeProsodyRosters(dataPath, domain, publisher, contacts) {
  const dir = path.join(dataPath, prosodyPathEncode(domain), 'roster');
  fs.mkdirSync(dir, { recursive: true });
  const meta = '\t[false] = { ["version"] = 1; ["pending"] = {}; };\n';
  const item = (jid) => `\t[${lua(jid)}] = { ["subscription"] = "both"; ["groups"] = {}; };\n`;
  fs.writeFileSync(path.join(dir, `${prosodyPathEncode(publisher)}.dat`), `return {\n${meta}${contacts.map((c) => item(`${c}@${domain}`)).join('')}};\n`);
  for (const c of contacts) fs.writeFileSync(path.join(dir, `${prosodyPathEncode(c)}.dat`), `return {\n${meta}${item(`${publisher}@${domain}`)}};\n`);
}

/** Clove's roster records, through Clove's own file backend from dist/ (its 'roster' keyval store). */
export async function writeCloveRosters(repo, dataPath, domain, publisher, contacts) {
  const { createFileBackend } = await import(pathToFileURL(path.join(repo, 'dist', 'storage', 'file.js')).href);
  const backend = createFileBackend(dataPath);
  const store = backend.keyval(domain, 'roster');
  const roster = (jids) => ({ version: 1, items: Object.fromEntries(jids.map((j) => [j, { subscription: 'both', groups: [] }])), pending: {} });
  await store.set(publisher, roster(contacts.map((c) => `${c}@${domain}`)));
  const batch = 50;
  for (let i = 0; i < contacts.length; i += batch) {
    await Promise.all(contacts.slice(i, i + batch).map((c) => store.set(c, roster([`${publisher}@${domain}`]))));
  }
  await backend.close();
}
