// Micro-benchmark: Clove's StreamParser against ltx's parser on the same stream of chat
// messages, fed as 64 KiB Buffer chunks, in one process.
//
//   npx tsc -p tsconfig.json && node bench/parser.mjs [stanzas] [rounds]
//   CLOVE_PARSER=/tmp/xmlbuild/xml/parser.js node bench/parser.mjs   (a build elsewhere)
//
// Lanes:
//   clove       StreamParser: strict UTF-8, well-formedness, limits, builds an Element per stanza
//   ltx+tree    ltx's SAX parser building one ltx Element per stanza (what @xmpp/xml's Parser does)
//   ltx-sax     ltx's SAX parser alone: events only, no tree (a floor for any tree-building parser)
// The ratio compares clove with ltx+tree, the like-for-like lane.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Element as LtxElement } from 'ltx';
import LtxSax from 'ltx/src/parsers/ltx.js';

const STANZAS = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const CHUNK = 64 * 1024;

const parserPath = process.env.CLOVE_PARSER ?? new URL('../dist/xml/parser.js', import.meta.url).pathname;
const { StreamParser } = await import(pathToFileURL(resolve(parserPath)).href);

function makeInput() {
  const parts = [
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
      "to='example.net' version='1.0'>",
  ];
  for (let i = 0; i < STANZAS; i++) {
    parts.push(
      `<message to='juliet${i % 100}@example.net/balcony' from='romeo@example.org/orchard' type='chat' id='m${i}'>` +
        '<body>hello &amp; world</body></message>',
    );
  }
  parts.push('</stream:stream>');
  const all = Buffer.from(parts.join(''));
  const chunks = [];
  for (let i = 0; i < all.length; i += CHUNK) chunks.push(all.subarray(i, i + CHUNK));
  return { bytes: all.length, chunks };
}

function runClove(chunks) {
  let count = 0;
  let failure = null;
  const p = new StreamParser({
    streamStart() {},
    stanza(el) {
      if (el.children.length > 0) count++;
    },
    streamEnd() {},
    error(condition, text) {
      failure = `${condition}: ${text}`;
    },
  });
  for (const c of chunks) p.write(c);
  if (failure) throw new Error(failure);
  return count;
}

// The same tree building as @xmpp/xml's Parser (root kept apart, stanzas emitted at depth 1).
function runLtxTree(chunks) {
  let count = 0;
  const sax = new LtxSax();
  let root = null;
  let cursor = null;
  sax.on('startElement', (name, attrs) => {
    const el = new LtxElement(name, attrs);
    if (!root) root = el;
    else if (cursor !== root) cursor.append(el);
    cursor = el;
  });
  sax.on('endElement', (name) => {
    if (name !== cursor.name) throw new Error('mismatch');
    if (cursor === root) return;
    if (!cursor.parent) {
      if (cursor.children.length > 0) count++;
      cursor = root;
      return;
    }
    cursor = cursor.parent;
  });
  sax.on('text', (str) => {
    if (cursor !== root) cursor.t(str);
  });
  for (const c of chunks) sax.write(c);
  return count;
}

function runLtxSax(chunks) {
  let count = 0;
  const sax = new LtxSax();
  sax.on('endElement', (name) => {
    if (name === 'message') count++;
  });
  sax.on('startElement', () => {});
  sax.on('text', () => {});
  for (const c of chunks) sax.write(c);
  return count;
}

const { bytes, chunks } = makeInput();
const lanes = { clove: runClove, 'ltx+tree': runLtxTree, 'ltx-sax': runLtxSax };
const best = {};
console.log(`node ${process.version}: ${STANZAS} stanzas, ${(bytes / 1048576).toFixed(1)} MiB, ${chunks.length} chunks of 64 KiB`);
for (let round = 0; round <= ROUNDS; round++) {
  for (const [name, run] of Object.entries(lanes)) {
    const t0 = process.hrtime.bigint();
    const n = run(chunks);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (n !== STANZAS) throw new Error(`${name} saw ${n} stanzas, expected ${STANZAS}`);
    if (round === 0) continue; // warm-up
    const rate = STANZAS / (ms / 1000);
    best[name] = Math.max(best[name] ?? 0, rate);
  }
}
for (const [name, rate] of Object.entries(best)) {
  console.log(`${name.padEnd(9)} ${Math.round(rate).toLocaleString('en-US').padStart(10)} stanzas/s  ${((rate * bytes) / STANZAS / 1048576).toFixed(1).padStart(6)} MiB/s`);
}
console.log(`ratio clove / ltx+tree: ${(best.clove / best['ltx+tree']).toFixed(2)}   clove / ltx-sax: ${(best.clove / best['ltx-sax']).toFixed(2)}`);
