// Client for bench/fuzz/expat.py: one python3 process, documents sent in batches.

import { spawn } from 'node:child_process';

/** Starts the expat reference; parseBatch(buffers) resolves with one result per document. */
export function startExpat(python = '/usr/bin/python3') {
  const child = spawn(python, [new URL('./expat.py', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] });
  let buf = '';
  let want = 0;
  let got = [];
  let done = null;
  let failed = null;
  child.on('exit', (code) => {
    failed = new Error(`expat.py exited with ${code}`);
    if (done) done(null);
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      got.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
    if (done && got.length >= want) {
      const r = got;
      got = [];
      const d2 = done;
      done = null;
      d2(r);
    }
  });
  return {
    parseBatch(docs) {
      return new Promise((resolve, reject) => {
        if (failed) return reject(failed);
        want = docs.length;
        done = (r) => (r ? resolve(r) : reject(failed));
        const parts = [];
        for (const d of docs) {
          const h = Buffer.alloc(4);
          h.writeUInt32BE(d.length);
          parts.push(h, d);
        }
        parts.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
        child.stdin.write(Buffer.concat(parts));
      });
    },
    stop() {
      child.stdin.end();
    },
  };
}
