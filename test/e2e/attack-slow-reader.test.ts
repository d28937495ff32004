// Attack 2 of issue 9: a client that stops reading while others send to it. The server may not
// buffer its output without bound: past OUTPUT_LIMIT (src/stream/xml-stream.ts) of unsent output
// the stream ends with `resource-constraint`. Against a real child server; RSS from /proc.
//   - the reader logs in, sends presence, then pauses its socket (reads nothing more);
//   - another client sends it 100 MiB of headline messages (headlines to a gone resource are
//     dropped, so nothing piles up in offline storage after the cut);
//   - the server's RSS grows by less than 128 MiB (issue 9's threshold), it logs that the reader
//     does not read, and the reader, once it reads again, finds `resource-constraint`;
//   - with XEP-0198 resumption enabled, the reader's session hibernates instead, and a new
//     connection resumes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { NS_STREAM_ERRORS, Wire, ping } from '../helpers/wire.js';

const MiB = 1024 * 1024;
const TOTAL = 100 * MiB;
const BODY = 'x'.repeat(64 * 1024);

describe('a client that stops reading (issue 9, attack 2)', () => {
  let child: ChildServer;

  beforeAll(async () => {
    // The sender must not be slowed by the read rate (`limits`): this test is about output.
    child = await startChild({ extra: 'limits = { c2s = { rate = "1gb/s" } }' });
    await addUsers(child.configPath, [['reader@localhost', 'reader-pass'], ['sender@localhost', 'sender-pass']]);
  });

  afterAll(async () => {
    if (child) {
      await child.kill('SIGTERM');
      await removeChildDir(child.dir);
    }
  });

  it('100 MiB sent to a non-reading session grows RSS < 128 MiB; the reader gets resource-constraint', async () => {
    const reader = await Wire.login({ port: child.port, username: 'reader', password: 'reader-pass', resource: 'slow' });
    await reader.write('<presence/>');
    expect((await ping(reader)).attrs.type).toBe('result');
    const sender = await Wire.login({ port: child.port, username: 'sender', password: 'sender-pass', resource: 'flood' });
    const baseline = await child.rss();
    reader.pause();

    let peak = baseline;
    let sent = 0;
    let n = 0;
    while (sent < TOTAL) {
      const stanza = `<message to='${reader.jid}' type='headline' id='m${n++}'><body>${BODY}</body></message>`;
      await sender.write(stanza);
      sent += stanza.length;
      if (n % 32 === 0) peak = Math.max(peak, await child.rss());
    }
    // Everything sent has been routed once the sender's ping comes back.
    expect((await ping(sender, 30_000)).attrs.type).toBe('result');
    peak = Math.max(peak, await child.rss());
    expect(peak - baseline, `RSS grew from ${(baseline / MiB).toFixed(1)} to ${(peak / MiB).toFixed(1)} MiB`).toBeLessThan(128 * MiB);

    await child.waitForLog((l) => l.msg === 'the peer does not read its stream; closing it', 5000);
    reader.resume();
    const { condition } = await reader.streamError(10_000);
    expect(condition).toBe('resource-constraint');
    expect(reader.received.find((e) => e.name === 'stream:error')?.getChild('resource-constraint', NS_STREAM_ERRORS)).toBeDefined();
    sender.destroy();
    reader.destroy();
  }, 60_000);

  it('with XEP-0198 resumption, the non-reading session hibernates instead and can be resumed', async () => {
    const NS_SM = 'urn:xmpp:sm:3';
    const reader = await Wire.login({ port: child.port, username: 'reader', password: 'reader-pass', resource: 'sm' });
    await reader.write(`<enable xmlns='${NS_SM}' resume='true'/>`);
    const enabled = await reader.next((e) => e.name === 'enabled', '<enabled/>');
    await reader.write('<presence/>');
    expect((await ping(reader)).attrs.type).toBe('result');
    const sender = await Wire.login({ port: child.port, username: 'sender', password: 'sender-pass', resource: 'sm-flood' });
    const baseline = await child.rss();
    reader.pause();
    const hibernated = child.waitForLog((l) => l.msg === 'the client does not read its stream; dropping the connection, the session hibernates', 30_000);
    let cut = false;
    void hibernated.then(() => { cut = true; }, () => undefined);
    let peak = baseline;
    // 64 KiB messages until the server cuts the reader off (at most 100 MiB), a ping after every
    // 4 so that little is still in flight at the cut: what arrives after it waits in the
    // hibernating session's queue, which must stay under its bounds (8 MiB, 500 stanzas) for the
    // resumption. The cut comes after the kernel's socket buffers (~4 MiB here) and 2 MiB.
    for (let sent = 0, n = 0; !cut && sent < TOTAL; n++) {
      const stanza = `<message to='${reader.jid}' type='headline' id='s${n}'><body>${BODY}</body></message>`;
      await sender.write(stanza);
      sent += stanza.length;
      if (n % 4 === 3) await ping(sender, 10_000);
      if (n % 64 === 0) peak = Math.max(peak, await child.rss());
    }
    await hibernated;
    await child.waitForLog((l) => l.msg === 'connection lost; session hibernating', 5000);
    peak = Math.max(peak, await child.rss());
    expect(peak - baseline, `RSS grew from ${(baseline / MiB).toFixed(1)} to ${(peak / MiB).toFixed(1)} MiB`).toBeLessThan(128 * MiB);
    reader.destroy();
    const again = await Wire.login({ port: child.port, bind: false, username: 'reader', password: 'reader-pass' });
    await again.write(`<resume xmlns='${NS_SM}' previd='${enabled.attrs.id}' h='0'/>`);
    const resumed = await again.next((e) => e.name === 'resumed' || e.name === 'failed', '<resumed/>', 10_000);
    expect(resumed.name, `${again.text.slice(0, 300)} … ${child.logs().filter((l) => /smacks|hibernat|resum|unacknowledged/.test(String(l.msg))).map((l) => l.msg).join(' | ')}`).toBe('resumed');
    sender.destroy();
    again.destroy();
  }, 60_000);
});
