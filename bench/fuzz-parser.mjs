// Fuzzer for Clove's stream parser (src/xml/parser*.ts, run from dist/): generated XMPP-like
// streams, valid and mutated, each fed whole, in random byte pieces and (when it is UTF-8) as
// strings in random pieces. Checks: nothing is thrown out of the parser; the verdict (accept,
// reject, incomplete) and the stanzas produced do not depend on how the input was cut; a
// generated valid document is accepted; no input takes long (a watchdog thread catches a
// hang); the heap stays flat over the run; endless constructs fail within the stanza limit
// or, where legitimately endless, keep memory flat. Deterministic: input i of seed s is
// always the same (`--only i` prints it).
//
//   npm run build && node bench/fuzz-parser.mjs [--inputs 1000000] [--seed 1] [--only N] [--json FILE]

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { isUtf8 } from 'node:buffer';
import v8 from 'node:v8';
import vm from 'node:vm';
import { makeInput } from './fuzz/inputs.mjs';
import { StreamParser, runClove, cutBytes, cutString, fingerprint } from './fuzz/clove-run.mjs';
import { ENDLESS, piece } from './fuzz/endless.mjs';

const BAD_CHAR = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;

function args(argv) {
  const o = { inputs: 1_000_000, seed: 1, only: null, json: null, hangSeconds: 30, maxMs: 5000 };
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k];
    const v = argv[k + 1];
    if (a === '--inputs') o.inputs = Number(v), k++;
    else if (a === '--seed') o.seed = Number(v), k++;
    else if (a === '--only') o.only = Number(v), k++;
    else if (a === '--json') o.json = v, k++;
    else if (a === '--max-ms') o.maxMs = Number(v), k++;
    else if (a === '--hang-seconds') o.hangSeconds = Number(v), k++;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** Checks one input; returns the failures found (strings) and the whole-input result. */
function check(input) {
  const { kind, buf, limits, cuts, cuts2 } = input;
  const fails = [];
  const whole = runClove([buf], limits);
  const runs = [['bytes', runClove(cutBytes(buf, cuts), limits)]];
  const utf8 = isUtf8(buf);
  let str = null;
  if (utf8) {
    str = buf.toString('utf8');
    runs.push(['string', runClove(cutString(str, cuts2, buf.length), limits)]);
  }
  for (const [, res] of [['whole', whole], ...runs]) {
    if (res.threw) fails.push(`exception: ${res.threw.stack ?? res.threw}`);
  }
  // The condition may legitimately depend on the cut when the input has invalid UTF-8 or a
  // forbidden character (each chunk is checked for those before it is parsed) or a limit is
  // hit (sizes are counted as data arrives); otherwise the first error is found in order.
  const strict = utf8 && !BAD_CHAR.test(str) && limits === undefined;
  const fw = fingerprint(whole);
  let deferred = false;
  for (const [how, res] of runs) {
    if (whole.verdict === 'reject' && res.verdict === 'incomplete' && res.tailBytes > 0) {
      // Allowed when the error lies in the held-back tail (a tag still waiting for its '>'):
      // the input without that tail must not be rejected.
      const head = runClove([buf.subarray(0, buf.length - res.tailBytes)], limits);
      if (head.verdict !== 'reject') {
        deferred = true;
        continue;
      }
    }
    if (res.verdict !== whole.verdict) {
      fails.push(`verdict depends on the cut (${how}): whole ${whole.verdict} ${whole.condition ?? ''} ${whole.text ?? ''} / split ${res.verdict} ${res.condition ?? ''} ${res.text ?? ''}`);
      continue;
    }
    if (whole.verdict !== 'reject') {
      if (fingerprint(res) !== fw) fails.push(`output depends on the cut (${how})`);
    } else {
      const a = whole.stanzas.map(String);
      const b = res.stanzas.map(String);
      const n = Math.min(a.length, b.length);
      for (let k = 0; k < n; k++) if (a[k] !== b[k]) { fails.push(`stanza ${k} depends on the cut (${how})`); break; }
      if (strict && res.condition !== whole.condition) {
        fails.push(`condition depends on the cut (${how}): whole ${whole.condition} (${whole.text}) / split ${res.condition} (${res.text})`);
      }
    }
  }
  if (kind === 'valid' && whole.verdict === 'reject') fails.push(`valid document rejected: ${whole.condition}: ${whole.text}`);
  return { fails, whole, deferred };
}

/** Endless constructs: bytes consumed before the error, and heap growth while feeding. */
function endless(gc) {
  const CHUNK = 16 * 1024;
  const LIMIT = 262144;
  const MAX_FEED = 8 * 1024 * 1024;
  const rows = [];
  for (const e of ENDLESS) {
    const [name, prefix, , mustFail] = e;
    let failed = null;
    const p = new StreamParser({
      streamStart() {}, stanza() {}, streamEnd() {},
      error(condition, text) { failed = `${condition}: ${text}`; },
    });
    p.write(prefix);
    gc();
    const before = process.memoryUsage().heapUsed;
    let fed = 0;
    let peak = 0;
    let k = 0;
    while (failed === null && fed < MAX_FEED) {
      let s = '';
      while (s.length < CHUNK) s += piece(e, k++);
      p.write(s);
      fed += s.length;
      if ((fed / CHUNK) % 64 < 1) {
        gc(); // retained memory, not garbage waiting for the collector
        peak = Math.max(peak, process.memoryUsage().heapUsed - before);
      }
    }
    gc();
    peak = Math.max(peak, process.memoryUsage().heapUsed - before);
    const ok = mustFail ? failed !== null && fed <= LIMIT + 2 * CHUNK : failed === null;
    rows.push({ name, fed, error: failed, heapGrowthKiB: Math.round(peak / 1024), ok });
  }
  return rows;
}

function workerMain() {
  const { seed, inputs, maxMs, progress } = workerData;
  const beat = new Int32Array(progress);
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const verdicts = {};
  const kinds = {};
  const failures = [];
  let bytes = 0;
  let deferredCount = 0;
  let maxTime = 0;
  let maxAt = -1;
  const heap = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < inputs; i++) {
    Atomics.store(beat, 0, i);
    const s = process.hrtime.bigint();
    const input = makeInput(seed, i);
    const { fails, whole, deferred } = check(input);
    if (deferred) deferredCount++;
    const ms = Number(process.hrtime.bigint() - s) / 1e6;
    if (ms > maxTime) { maxTime = ms; maxAt = i; }
    if (ms > maxMs) fails.push(`slow: ${ms.toFixed(1)} ms`);
    bytes += input.buf.length;
    kinds[input.kind] = (kinds[input.kind] ?? 0) + 1;
    const v = whole.verdict === 'reject' ? `reject ${whole.condition}` : whole.verdict;
    verdicts[v] = (verdicts[v] ?? 0) + 1;
    if (fails.length > 0 && failures.length < 50) failures.push({ index: i, kind: input.kind, fails: [...new Set(fails)] });
    if (i % 50_000 === 0) {
      gc();
      heap.push(process.memoryUsage().heapUsed);
      parentPort.postMessage({ type: 'tick', i, failures: failures.length });
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage();
  const cpuSeconds = (cpu.user + cpu.system) / 1e6; // the whole process; the main thread only sleeps
  gc();
  heap.push(process.memoryUsage().heapUsed);
  const rows = endless(gc);
  parentPort.postMessage({ type: 'done', inputs, seconds, cpuSeconds, bytes, verdicts, kinds, failures, maxTime, maxAt, heap, deferred: deferredCount, endless: rows });
}

function only(o) {
  const input = makeInput(o.seed, o.only);
  console.log(`input ${o.only} (seed ${o.seed}), ${input.kind}, ${input.buf.length} bytes, limits ${JSON.stringify(input.limits)}`);
  console.log(JSON.stringify(input.buf.toString('latin1')));
  console.log('cuts', JSON.stringify(input.cuts), 'string cuts', JSON.stringify(input.cuts2));
  const { fails, whole } = check(input);
  console.log(`whole: ${whole.verdict} ${whole.condition ?? ''} ${whole.text ?? ''}`);
  console.log(fails.length ? fails.join('\n') : 'no failure');
}

async function main() {
  const o = args(process.argv.slice(2));
  if (o.only !== null) return only(o);
  const progress = new SharedArrayBuffer(4);
  const beat = new Int32Array(progress);
  const worker = new Worker(new URL(import.meta.url), { workerData: { seed: o.seed, inputs: o.inputs, maxMs: o.maxMs, progress } });
  let last = -1;
  let still = 0;
  const watchdog = setInterval(() => {
    const now = Atomics.load(beat, 0);
    still = now === last ? still + 1 : 0;
    last = now;
    if (still >= o.hangSeconds) {
      console.error(`HANG: input ${now} (seed ${o.seed}) made no progress for ${o.hangSeconds} s; reproduce with --only ${now}`);
      worker.terminate();
      process.exitCode = 2;
    }
  }, 1000);
  const result = await new Promise((resolve, reject) => {
    worker.on('message', (m) => {
      if (m.type === 'tick') process.stderr.write(`\r${m.i.toLocaleString('en-US')} inputs, ${m.failures} failing`);
      else resolve(m);
    });
    worker.on('error', reject);
    worker.on('exit', (code) => resolve(null));
  });
  clearInterval(watchdog);
  process.stderr.write('\n');
  if (!result) return;
  report(o, result);
}

function report(o, m) {
  const mib = (b) => (b / 1048576).toFixed(1);
  console.log(`node ${process.version}, seed ${o.seed}`);
  console.log(`inputs: ${m.inputs.toLocaleString('en-US')} (${Object.entries(m.kinds).map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ')}), ${mib(m.bytes)} MiB`);
  console.log(`parser runs: whole + random byte pieces for every input, + random string pieces for UTF-8 inputs`);
  console.log(`time: ${m.seconds.toFixed(1)} s wall, ${m.cpuSeconds.toFixed(1)} s CPU, ${Math.round(m.inputs / m.seconds).toLocaleString('en-US')} inputs/s (${Math.round(m.inputs / m.cpuSeconds).toLocaleString('en-US')} per CPU second); slowest input ${m.maxTime.toFixed(2)} ms (#${m.maxAt}, all its runs)`);
  console.log(`error found later when cut: ${m.deferred.toLocaleString('en-US')} inputs rejected whole were still incomplete when cut, the error lying in a tag whose '>' never came`);
  console.log('verdicts (input fed whole):');
  for (const [v, n] of Object.entries(m.verdicts).sort((a, b) => b[1] - a[1])) console.log(`  ${v.padEnd(34)} ${n.toLocaleString('en-US').padStart(10)}`);
  const h = m.heap;
  console.log(`heap after GC every 50,000 inputs: first ${mib(h[0])} MiB, min ${mib(Math.min(...h))}, max ${mib(Math.max(...h))}, last ${mib(h[h.length - 1])} MiB`);
  console.log('endless constructs (16 KiB chunks, default limits: 256 KiB stanza, depth 64, 64 attributes):');
  for (const e of m.endless) {
    console.log(`  ${e.ok ? 'ok  ' : 'FAIL'} ${e.name.padEnd(28)} fed ${mib(e.fed).padStart(5)} MiB, retained heap +${String(e.heapGrowthKiB).padStart(5)} KiB (max after GC), ${e.error ?? 'no error (as it should)'}`);
  }
  const heapGrowth = h[h.length - 1] - h[Math.min(1, h.length - 1)];
  const bad = m.failures.length + m.endless.filter((e) => !e.ok).length + (heapGrowth > 32 * 1048576 ? 1 : 0);
  console.log(`failures: ${m.failures.length} inputs${m.failures.length >= 50 ? ' (first 50 kept)' : ''}`);
  for (const f of m.failures.slice(0, 20)) console.log(`  #${f.index} (${f.kind}): ${f.fails.join(' | ').slice(0, 400)}`);
  if (o.json) {
    import('node:fs').then((fs) => fs.writeFileSync(o.json, JSON.stringify({ seed: o.seed, ...m }, null, 1)));
  }
  process.exitCode = bad > 0 ? 1 : 0;
}

if (isMainThread) await main();
else workerMain();
