// Fuzzer for Clove's stanza handlers: a real server process (bin/clove.js from dist/, most
// modules on, s2s through a SOCKS5 port where nothing listens so no stanza leaves the machine
// and no name is resolved), two authenticated sessions over TLS, and generated stanzas from one
// to the other, to the server, to themselves, to unknown, offline, remote and malformed JIDs.
// Checks: the server never exits; after every batch it answers a ping; every iq get/set gets
// exactly one answer, no iq result/error gets any; its output is well-formed (read with
// Clove's strict parser); its RSS stays bounded.
//
//   npm run build && node bench/fuzz-stanzas.mjs [--stanzas 100000] [--batch 100] [--seed 1] [--keep-tmp]

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rssKiB, stopServer, killAllStartedSync, tail } from './lib/proc.mjs';
import { DOMAIN, MODULES, startClove } from './fuzz/server.mjs';
import { rng } from './fuzz/rng.mjs';
import { stanza } from './fuzz/gen-stanza.mjs';
import { FuzzSession } from './fuzz/session.mjs';


function args(argv) {
  const o = { stanzas: 100_000, batch: 100, seed: 1, 'keep-tmp': false, 'drain-every': 10 };
  for (let k = 0; k < argv.length; k++) {
    const key = argv[k].replace(/^--/, '');
    if (!(key in o)) throw new Error(`unknown option ${argv[k]}`);
    if (typeof o[key] === 'boolean') o[key] = true;
    else o[key] = Number(argv[++k]);
  }
  return o;
}

const mib = (kib) => (kib / 1024).toFixed(1);

async function main() {
  const o = args(process.argv.slice(2));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clove-fuzz-stanzas-'));
  let server;
  const failures = [];
  const fail = (what) => {
    if (process.env.FUZZ_DEBUG) console.error(`FAIL ${what}`);
    if (failures.length < 50) failures.push(what);
  };
  const sessions = [];
  try {
    server = await startClove(dir);
    const target = { host: '127.0.0.1', port: server.port, domain: DOMAIN };
    const a = new FuzzSession(target, server.users[0].user, server.users[0].password);
    const b = new FuzzSession(target, server.users[1].user, server.users[1].password);
    sessions.push(a, b);
    await a.connect();
    await b.connect();
    let idSeq = 0;
    const rssStart = rssKiB(server.proc.pid);
    const rss = [];
    let sent = 0;
    let maxPing = 0;
    let exempt = 0;
    let lastToPartner = [];
    let lostWithPartner = 0;
    const counts = { iq: 0, message: 0, presence: 0, other: 0, 'iq get/set': 0 };
    const t0 = Date.now();
    for (let batch = 0; sent < o.stanzas; batch++) {
      const sender = batch % 2 === 0 ? a : b;
      const other = sender === a ? b : a;
      if (sender.closed) await sender.connect(); // a stanza ended its stream (e.g. invalid-from): log in again
      if (other.closed) await other.connect();
      const bare = (s) => s.jid.split('/')[0];
      const ctx = {
        self: sender.jid,
        jids: [sender.jid, bare(sender), other.jid, bare(other), DOMAIN, `${DOMAIN}/x`, `fuzz2@${DOMAIN}`, `${bare(other)}/gone`, `nobody@${DOMAIN}`],
        nextId: () => `f${++idSeq}`,
      };
      const r = rng(o.seed, batch);
      const parts = [];
      const iqs = [];
      const quiet = [];
      for (let k = 0; k < o.batch && sent < o.stanzas; k++, sent++) {
        const s = stanza(r, ctx);
        parts.push(s.xml);
        if (s.iq) iqs.push([s.iq, s.xml]);
        if (s.quiet) quiet.push(s.quiet);
        const kind = /^<(iq|message|presence)[ />]/.exec(s.xml)?.[1] ?? 'other';
        counts[kind]++;
        if (s.iq) counts['iq get/set']++;
      }
      // XEP-0191: once either side blocks the other, the partner's answers are dropped. An iq to
      // the partner need not be answered when its batch blocks someone, or when the partner's
      // next batch does (its answer may be read after that batch's <block/>).
      const partner = bare(other);
      const toPartner = iqs.filter(([, x]) => /^<iq to="([^"]*)"/.exec(x)?.[1].startsWith(partner)).map(([id]) => id);
      if (parts.some((p) => p.includes('<block xmlns="urn:xmpp:blocking"'))) {
        const keep = iqs.filter(([id]) => !toPartner.includes(id));
        exempt += iqs.length - keep.length;
        iqs.splice(0, iqs.length, ...keep);
        for (const id of lastToPartner) if (other.pending.delete(id)) exempt++;
      }
      lastToPartner = toPartner;
      if (process.env.FUZZ_DEBUG) console.error(`batch ${batch} from ${sender.user}`);
      sender.send(parts.join(''), iqs, quiet);
      const ms = await sender.ping(`ping${batch}`, 20000);
      if (server.proc.exited) {
        fail(`server exited (code ${server.proc.exitCode}, signal ${server.proc.signal}) after batch ${batch}`);
        break;
      }
      if (ms === null && !sender.closed) fail(`no answer to a ping after batch ${batch} within 20 s`);
      if (ms !== null) maxPing = Math.max(maxPing, ms);
      if (batch % o['drain-every'] === 0 || sent >= o.stanzas) {
        // Answers routed through the other session may come after the ping's: wait a little.
        const deadline = Date.now() + 10000;
        const waiting = () => [a, b].some((s) => !s.closed && s.pending.size > 0);
        while (Date.now() < deadline && waiting()) await new Promise((res) => setTimeout(res, 20));
        for (const s of [a, b]) {
          if (s.closed) continue;
          const peer = s === a ? b : a;
          let lostHere = 0;
          for (const [id, xml] of s.pending) {
            const got = peer.requests.get(id);
            // The partner answered, but on a stream the server then ended (its answer was
            // queued behind its own next batch, which held a stanza that ends the stream).
            if (got && (got.stream !== peer.stats.logins || peer.closed)) {
              lostHere++;
              continue;
            }
            const seen = got ? `${peer.user} received it from ${got.from}` : `${peer.user} (now ${peer.jid}, ${peer.closed || 'open'}) did not receive it`;
            fail(`iq ${id} (${s.user}) got no answer within 10 s (${seen}): ${xml.slice(0, 600)}`);
          }
          lostWithPartner += lostHere;
          s.stats.unanswered = (s.stats.unanswered ?? 0) + s.pending.size - lostHere;
          s.pending.clear();
        }
        rss.push(rssKiB(server.proc.pid));
        process.stderr.write(`\r${sent.toLocaleString('en-US')} stanzas, RSS ${mib(rss[rss.length - 1])} MiB, ${failures.length} failures`);
      }
    }
    const secs = (Date.now() - t0) / 1000;
    process.stderr.write('\n');
    const st = (k) => a.stats[k] + b.stats[k];
    const streamErrors = {};
    for (const s of [a, b]) for (const [k, v] of Object.entries(s.stats.streamErrors)) streamErrors[k] = (streamErrors[k] ?? 0) + v;
    for (const s of [a, b]) for (const bad of s.stats.badOutput) fail(`malformed output from the server to ${s.user}: ${bad}`);
    for (const s of [a, b]) for (const d of s.stats.duplicates) fail(`iq answered more than once (${s.user}), second answer: ${d}`);
    if (st('answeredResults') > 0) fail(`${st('answeredResults')} iq result/error answered`);
    const early = rss[Math.min(rss.length - 1, Math.floor(rss.length / 10))];
    const last = rss[rss.length - 1];
    if (last - early > 64 * 1024) fail(`RSS grew ${mib(last - early)} MiB after the first 10% of the run`);
    console.log(`node ${process.version}, Clove from dist/, seed ${o.seed}, modules: ${MODULES.join(' ')}`);
    console.log(`stanzas sent: ${sent.toLocaleString('en-US')} (${Object.entries(counts).map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ')}) in ${secs.toFixed(1)} s, ${Math.round(sent / secs).toLocaleString('en-US')}/s, batches of ${o.batch}, each followed by a ping`);
    console.log(`iq get/set answered exactly once: ${st('answers').toLocaleString('en-US')}; lost with a stream the server closed: ${st('lost')} (sender's), ${lostWithPartner} (the answering partner's); unanswered: ${(a.stats.unanswered ?? 0) + (b.stats.unanswered ?? 0)}; answered twice: ${st('duplicateAnswers')}; iq result/error answered: ${st('answeredResults')}; not checked (to the partner around a <block/>): ${exempt}`);
    console.log(`stanzas received by the two sessions: ${st('received').toLocaleString('en-US')}; logins: ${st('logins')} (the first two + after streams the server ended: ${Object.entries(streamErrors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'})`);
    console.log(`slowest ping after a batch: ${maxPing} ms`);
    console.log(`server RSS: ${mib(rssStart)} MiB after login, ${mib(early)} MiB after 10% of the run, max ${mib(Math.max(...rss))}, last ${mib(last)} MiB`);
    console.log(`failures: ${failures.length}`);
    for (const f of failures.slice(0, 30)) console.log(`  ${f}`);
    process.exitCode = failures.length > 0 ? 1 : 0;
  } catch (e) {
    console.error(`fuzz-stanzas: ${e.stack ?? e}`);
    if (server) console.error(tail(server.logPath, 30));
    process.exitCode = 2;
  } finally {
    for (const s of sessions) s.close();
    if (server) {
      if (server.proc.exited) console.log(`server log tail:\n${tail(server.logPath, 30)}\n${tail(path.join(dir, 'clove.stdout'), 30)}`);
      await stopServer(server.proc);
    }
    killAllStartedSync();
    if (o['keep-tmp']) console.log(`kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
