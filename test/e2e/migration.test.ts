// Migration from Prosody: data written by a real Prosody (Debian's 0.12) — an account from
// `prosodyctl register`, an internal_hashed account, roster entries with a pending subscription,
// a vCard and private XML set by a client session — imported with the real CLI
// (`node bin/clove.js import-prosody`), then the same users log in to Clove with the same
// passwords (PLAIN and SCRAM-SHA-1) and see the same roster and vCard.
// Imported accounts have SCRAM-SHA-1 keys only, so the host does not offer SCRAM-SHA-256 until
// every one of them has logged in with PLAIN or had its password set: a client that picks the
// strongest mechanism offered (slixmpp does) must still get in with the old password.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileBackend } from '../../src/storage/file.js';
import { prosodyAvailable } from '../helpers/prosody.js';
import { writeProsodyData, writeImportConfig } from '../helpers/prosody-import.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { header, mechanismsOf, NS_SASL, Wire } from '../helpers/wire.js';
import { connectXmppjs } from '../helpers/xmppjs.js';
import { PYTHON, Slixmpp } from '../helpers/slixmpp.js';

const DOMAIN = 'migrate.test';
const BIN = join(process.cwd(), 'bin', 'clove.js');
const NS_ROSTER = 'jabber:iq:roster';
const NS_VCARD = 'vcard-temp';

/** slixmpp (Debian's python3-slixmpp) picks the strongest mechanism offered, SCRAM-SHA-256 included. */
const slixmppAvailable = spawnSync(PYTHON, ['-c', 'import slixmpp'], { stdio: 'ignore' }).status === 0;

/** A raw stream after STARTTLS, ready for <auth/>, with the SASL mechanisms offered. */
async function afterTls(port: number): Promise<{ w: Wire; offered: string[] }> {
  const w = await Wire.connect(port);
  try {
    await w.write(header(DOMAIN));
    await w.next((e) => e.name === 'stream:features', 'features');
    await w.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    await w.next((e) => e.name === 'proceed', 'proceed');
    await w.upgradeTls(DOMAIN);
    await w.write(header(DOMAIN));
    return { w, offered: mechanismsOf(await w.next((e) => e.name === 'stream:features', 'features after TLS')) };
  } catch (err) {
    w.destroy();
    throw err;
  }
}

/** The SASL mechanisms a server offers after STARTTLS, read off the wire. */
async function offeredAfterTls(port: number): Promise<string[]> {
  const { w, offered } = await afterTls(port);
  w.destroy();
  return offered;
}

/** Log in with slixmpp letting it choose the mechanism; returns the mechanism it used. */
async function slixmppLogin(server: TestServer, user: string, password: string): Promise<string> {
  const py = await Slixmpp.start(server);
  try {
    const s = await py.connect('c', `${user}@${DOMAIN}`, password);
    return s.mechanism;
  } finally {
    await py.stop();
  }
}

function runCli(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // stdin is a pipe closed at once when there is no input: the same end of file as /dev/null.
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(input ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every file under dir with its contents, for "nothing changed" comparisons. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      if ((await stat(p)).isDirectory()) await walk(p);
      else out[p.slice(dir.length)] = await readFile(p, 'utf8');
    }
  };
  await walk(dir);
  return out;
}

const enc = (s: string): string => s.replace(/[^A-Za-z0-9]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'));

describe.skipIf(!prosodyAvailable())('clove import-prosody (data from a real Prosody)', () => {
  let work: string;
  let prosodyData: string;
  let cfg: string;
  const cloveData = (): string => join(work, 'clove', 'data');

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'clove-migration-'));
    const opts = {
      domain: DOMAIN,
      users: [{ user: 'alice', password: 'alice-pw' }],
      extra: ['modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "vcard"; "presence"; "private"; "offline" }'],
    };
    prosodyData = await writeProsodyData(opts, work, async (prosody) => {
      // bob comes from prosodyctl itself (mod_auth_internal_hashed with Prosody's own defaults).
      const reg = spawnSync('prosodyctl', ['--config', prosody.configPath, 'register', 'bob', DOMAIN, 'bob pässword'], { encoding: 'utf8', cwd: prosody.dir });
      if (reg.status !== 0) throw new Error(`prosodyctl register failed: ${reg.stdout}${reg.stderr}`);

      const c = await Wire.login({ port: prosody.c2sPort, domain: DOMAIN, username: 'alice', password: 'alice-pw', timeoutMs: 5000 });
      const set1 = await c.iq(`<iq type='set'><query xmlns='${NS_ROSTER}'><item jid='bob@${DOMAIN}' name='Bob B'><group>Friends</group><group>Work</group></item></query></iq>`);
      const set2 = await c.iq(`<iq type='set'><query xmlns='${NS_ROSTER}'><item jid='carol@elsewhere.test' name='Carol'/></query></iq>`);
      expect([set1.attrs.type, set2.attrs.type]).toEqual(['result', 'result']);
      c.send(`<presence to='bob@${DOMAIN}' type='subscribe'/>`);
      const vc = await c.iq(`<iq type='set'><vCard xmlns='${NS_VCARD}'><FN>Alice Liddell</FN><NICKNAME>alice</NICKNAME><EMAIL><INTERNET/><USERID>alice@example.org</USERID></EMAIL><DESC>line one\nline "two" &amp; ünïcode</DESC></vCard></iq>`);
      expect(vc.attrs.type).toBe('result');
      const pv = await c.iq(`<iq type='set'><query xmlns='jabber:iq:private'><notes xmlns='storage:rosternotes'><note jid='bob@${DOMAIN}'>met at work</note></notes></query></iq>`);
      expect(pv.attrs.type).toBe('result');
      c.send(`<message to='bob@${DOMAIN}' type='chat' id='m1'><body>hello from prosody</body></message>`);
      // Let Prosody finish the subscription bookkeeping, then read back what it stored.
      await c.iq(`<iq type='get'><query xmlns='${NS_ROSTER}'/></iq>`);
      await c.close();
    });
    cfg = await writeImportConfig(work, cloveData(), DOMAIN);
  }, 40_000);

  afterAll(async () => {
    if (process.env.CLOVE_KEEP_MIGRATION) return void process.stderr.write(`kept ${work}\n`);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('--dry-run reports what it would import and writes nothing', async () => {
    const r = await runCli(['import-prosody', prosodyData, '--dry-run', '--config', cfg]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${DOMAIN}: would import 2 accounts, 2 roster, 1 vcard, 1 private, 1 offline`);
    expect(await snapshot(cloveData())).toEqual({});
    expect(await stat(cloveData()).then(() => 'exists', () => 'absent')).toBe('absent');
  });

  it('imports, and the users log in to Clove with their Prosody passwords and see the same roster and vCard', async () => {
    const r = await runCli(['import-prosody', prosodyData, '--config', cfg]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${DOMAIN}: imported 2 accounts, 2 roster, 1 vcard, 1 private`);

    const server = await startTestServer({ storage: 'file', dir: join(work, 'clove'), hosts: `VirtualHost "${DOMAIN}"` });
    try {
      // Both imported accounts lack SCRAM-SHA-256 keys: the host offers what Prosody offered them.
      const accounts = server.server.hosts.get(DOMAIN)!.accounts;
      await accounts.ready;
      expect(accounts.sha1OnlyCount()).toBe(2);
      expect(await offeredAfterTls(server.port)).toEqual(['SCRAM-SHA-1', 'PLAIN']);
      // xmpp.js, choosing for itself, logs in with the old password.
      const xj = await connectXmppjs(server, { username: 'alice', password: 'alice-pw' });
      expect(xj.offered).toEqual(['SCRAM-SHA-1', 'PLAIN']);
      expect(xj.mechanism).toBe('SCRAM-SHA-1');
      await xj.stop();
      // slixmpp picks the strongest mechanism offered; had SCRAM-SHA-256 been offered it would
      // have chosen it and failed with not-authorized.
      if (slixmppAvailable) expect(await slixmppLogin(server, 'alice', 'alice-pw')).toBe('SCRAM-SHA-1');
      // SCRAM-SHA-256 asked for anyway is refused: it is not offered.
      {
        const { w } = await afterTls(server.port);
        await w.write(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-256'>${Buffer.from('n,,n=alice,r=abcdefgh').toString('base64')}</auth>`);
        const failure = await w.next((e) => e.xmlns === NS_SASL, 'SASL outcome');
        expect(failure.name).toBe('failure');
        expect(failure.getChild('invalid-mechanism')).toBeDefined();
        w.destroy();
      }
      // SCRAM-SHA-1 logins leave the records as they are (the password never reaches the server).
      expect(accounts.sha1OnlyCount()).toBe(2);
      // SCRAM-SHA-1 with the keys Prosody derived, for both accounts.
      for (const [user, password] of [['alice', 'alice-pw'], ['bob', 'bob pässword']] as const) {
        const w = await Wire.login({ port: server.port, username: user, password, domain: DOMAIN, mechanism: 'SCRAM-SHA-1' });
        w.destroy();
      }
      // PLAIN, then the roster and vCard.
      const c = await Wire.login({ port: server.port, domain: DOMAIN, username: 'alice', password: 'alice-pw', timeoutMs: 5000 });
      const roster = await c.iq(`<iq type='get'><query xmlns='${NS_ROSTER}'/></iq>`);
      const items = roster.getChild('query', NS_ROSTER)!.getChildren('item').map((i) => ({
        jid: i.attrs.jid, name: i.attrs.name, subscription: i.attrs.subscription, ask: i.attrs.ask, groups: i.getChildren('group').map((g) => g.text()).sort(),
      })).sort((a, b) => String(a.jid).localeCompare(String(b.jid)));
      expect(items).toEqual([
        { jid: `bob@${DOMAIN}`, name: 'Bob B', subscription: 'none', ask: 'subscribe', groups: ['Friends', 'Work'] },
        { jid: 'carol@elsewhere.test', name: 'Carol', subscription: 'none', ask: undefined, groups: [] },
      ]);
      const vc = (await c.iq(`<iq type='get'><vCard xmlns='${NS_VCARD}'/></iq>`)).getChild('vCard', NS_VCARD)!;
      expect(vc.getChildText('FN')).toBe('Alice Liddell');
      // The PLAIN login completed the imported record: SCRAM-SHA-256 keys and a bcrypt hash now
      // exist beside Prosody's SCRAM-SHA-1 key, which still verifies the same password.
      await expect.poll(async () => Boolean(await accounts.getScram('alice', 'sha256')), { timeout: 5000 }).toBe(true);
      expect(await accounts.verifyPlain('alice', 'alice-pw')).toBe(true);
      expect(vc.getChildText('NICKNAME')).toBe('alice');
      expect(vc.getChild('EMAIL')!.getChildText('USERID')).toBe('alice@example.org');
      expect(vc.getChild('EMAIL')!.getChild('INTERNET')).toBeDefined();
      expect(vc.getChildText('DESC')).toBe('line one\nline "two" & ünïcode');
      const pv = await c.iq(`<iq type='get'><query xmlns='jabber:iq:private'><notes xmlns='storage:rosternotes'/></query></iq>`);
      expect(pv.getChild('query', 'jabber:iq:private')!.getChild('notes', 'storage:rosternotes')!.getChildText('note')).toBe('met at work');
      await c.close();
      // bob's offline message, kept by Prosody while he was away, arrives on his first presence.
      const b = await Wire.login({ port: server.port, domain: DOMAIN, username: 'bob', password: 'bob pässword', timeoutMs: 5000 });
      b.send('<presence/>');
      const m = await b.waitFor((el) => el.name === 'message');
      expect(m.attrs.from).toMatch(new RegExp(`^alice@${DOMAIN}`));
      expect(m.getChildText('body')).toBe('hello from prosody');
      expect(m.getChild('delay', 'urn:xmpp:delay')?.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT/);
      // bob gets alice's subscription request, which Prosody kept as pending.
      const sub = await b.waitFor((el) => el.name === 'presence' && el.attrs.type === 'subscribe');
      expect(sub.attrs.from).toBe(`alice@${DOMAIN}`);
      await b.close();
      // A wrong password still fails.
      await expect(Wire.login({ port: server.port, domain: DOMAIN, username: 'alice', password: 'wrong', timeoutMs: 5000 })).rejects.toThrow(/authentication failed/);
      // Both have now logged in with PLAIN: every record is complete.
      await expect.poll(() => accounts.allHaveSha256(), { timeout: 5000 }).toBe(true);
    } finally {
      await server.stop();
    }
    // A new start offers SCRAM-SHA-256 again, and logins with it work with the old passwords.
    const again = await startTestServer({ storage: 'file', dir: join(work, 'clove'), hosts: `VirtualHost "${DOMAIN}"` });
    try {
      await again.server.hosts.get(DOMAIN)!.accounts.ready;
      expect(await offeredAfterTls(again.port)).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
      if (slixmppAvailable) {
        expect(await slixmppLogin(again, 'alice', 'alice-pw')).toBe('SCRAM-SHA-256');
        expect(await slixmppLogin(again, 'bob', 'bob pässword')).toBe('SCRAM-SHA-256');
      }
      const xj = await connectXmppjs(again, { username: 'bob', password: 'bob pässword' });
      expect(xj.offered).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
      await xj.stop();
    } finally {
      await again.stop();
    }
  }, 60_000);

  it('a second import changes nothing', async () => {
    const before = await snapshot(cloveData());
    const r = await runCli(['import-prosody', prosodyData, '--config', cfg]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${DOMAIN}: imported 0 accounts, 0 roster, 0 vcard, 0 private, 0 offline, 0 archive (0 archived messages); unchanged (already in Clove or imported before) 2 accounts, 2 roster, 1 vcard, 1 private`);
    expect(await snapshot(cloveData())).toEqual(before);
  });

  it('a roster or vCard Clove already holds differently is skipped and kept, never overwritten', async () => {
    const cfgHeld = join(work, 'clove-held.cfg.lua');
    const dataHeld = join(work, 'clove-held', 'data');
    await writeFile(cfgHeld, [`data_path = ${JSON.stringify(dataHeld)}`, `VirtualHost "${DOMAIN}"`, ''].join('\n'));
    const held = createFileBackend(dataHeld);
    const roster = { items: { 'dave@elsewhere.test': { subscription: 'none', groups: [] } }, pending: {} };
    const vcard = { name: 'vCard', attrs: { xmlns: NS_VCARD }, children: [{ name: 'FN', attrs: {}, children: ['Someone Else'] }] };
    await held.keyval(DOMAIN, 'roster').set('alice', roster);
    await held.keyval(DOMAIN, 'vcard').set('alice', vcard);
    await held.close();
    const r = await runCli(['import-prosody', prosodyData, '--config', cfgHeld]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('skipped roster/alice.dat: Clove already has a different roster for this account');
    expect(r.stdout).toContain('skipped vcard/alice.dat: Clove already has a different vCard for this account');
    const after = createFileBackend(dataHeld);
    expect(await after.keyval(DOMAIN, 'roster').get('alice')).toEqual(roster);
    expect(await after.keyval(DOMAIN, 'vcard').get('alice')).toEqual(vcard);
    expect(await after.keyval<{ items: object }>(DOMAIN, 'roster').get('bob')).toBeDefined(); // the others are imported
    await after.close();
  });

  it('a corrupt .dat file is skipped with a warning naming it; the rest is imported', async () => {
    const bad = join(work, 'prosody-bad');
    await cp(prosodyData, bad, { recursive: true });
    const corrupt = join(bad, enc(DOMAIN), 'vcard', 'alice.dat');
    await writeFile(corrupt, 'return {\n\t["name"] = "vCard";\n\t["attr"] = { ["xmlns"] = "vcard-temp" ;\n');
    const cfg2 = join(work, 'clove2.cfg.lua');
    const data2 = join(work, 'clove2', 'data');
    await writeFile(cfg2, [`data_path = ${JSON.stringify(data2)}`, `VirtualHost "${DOMAIN}"`, ''].join('\n'));
    const r = await runCli(['import-prosody', bad, '--config', cfg2]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: skipping ${corrupt}`);
    expect(r.stdout).toContain(`${DOMAIN}: imported 2 accounts, 2 roster, 0 vcard, 1 private`);
    expect(r.stdout).toMatch(/skipped vcard\/alice\.dat: line \d+/);
    const files = Object.keys(await snapshot(data2));
    expect(files.some((f) => f.includes('/accounts/'))).toBe(true);
    expect(files.some((f) => f.includes('/roster/'))).toBe(true);
    expect(files.some((f) => f.includes('/vcard/'))).toBe(false);
  });

  it('internal_plain passwords are hashed on import and work with PLAIN and SCRAM-SHA-1', async () => {
    const plain = join(work, 'prosody-plain');
    const accountsDir = join(plain, enc(DOMAIN), 'accounts');
    await cp(join(prosodyData, enc(DOMAIN), 'accounts'), accountsDir, { recursive: true });
    // As mod_auth_internal_plain stores it: the password itself.
    await writeFile(join(accountsDir, 'dave.dat'), 'return {\n\t["password"] = "dave \\"pw\\" \\195\\169";\n};\n');
    const cfg3 = join(work, 'clove3.cfg.lua');
    await writeFile(cfg3, [`data_path = ${JSON.stringify(join(work, 'clove3', 'data'))}`, 'clove_bcrypt_cost = 4', `VirtualHost "${DOMAIN}"`, ''].join('\n'));
    const r = await runCli(['import-prosody', plain, '--config', cfg3]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`${DOMAIN}: imported 3 accounts`);
    const stored = await readFile(join(work, 'clove3', 'data', enc(DOMAIN).toLowerCase(), 'accounts', 'dave.json'), 'utf8');
    expect(stored).toContain('storedKey');
    expect(stored).not.toContain('dave "pw"');
    const again = await runCli(['import-prosody', plain, '--config', cfg3]);
    expect(again.stdout).toContain(`${DOMAIN}: imported 0 accounts`);
    // dave's password was hashed on import (all keys); alice and bob have SCRAM-SHA-1 keys only.
    const about = await runCli(['about', '--config', cfg3]);
    expect(about.stdout).toContain(`host ${DOMAIN}: 2 imported accounts lack SCRAM-SHA-256 keys`);
    const server = await startTestServer({ storage: 'file', dir: join(work, 'clove3'), hosts: `VirtualHost "${DOMAIN}"` });
    try {
      expect(await offeredAfterTls(server.port)).toEqual(['SCRAM-SHA-1', 'PLAIN']);
      (await Wire.login({ port: server.port, username: 'dave', password: 'dave "pw" é', domain: DOMAIN, mechanism: 'SCRAM-SHA-1' })).destroy();
      (await Wire.login({ port: server.port, username: 'dave', password: 'dave "pw" é', domain: DOMAIN })).destroy();
    } finally {
      await server.stop();
    }
    // `clove passwd` completes a record as well: once both are set, SCRAM-SHA-256 is back.
    for (const user of ['alice', 'bob']) {
      const p = await runCli(['passwd', `${user}@${DOMAIN}`, '--password-stdin', '--config', cfg3], `${user}-new\n`);
      expect(p.code, p.stderr).toBe(0);
    }
    const aboutAfter = await runCli(['about', '--config', cfg3]);
    expect(aboutAfter.stdout).not.toContain('lack SCRAM-SHA-256');
    const after = await startTestServer({ storage: 'file', dir: join(work, 'clove3'), hosts: `VirtualHost "${DOMAIN}"` });
    try {
      await after.server.hosts.get(DOMAIN)!.accounts.ready;
      expect(await offeredAfterTls(after.port)).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
      if (slixmppAvailable) expect(await slixmppLogin(after, 'bob', 'bob-new')).toBe('SCRAM-SHA-256');
    } finally {
      await after.stop();
    }
  }, 40_000);

  it('usage errors exit 1 with one line on stderr', async () => {
    const r = await runCli(['import-prosody', '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const r2 = await runCli(['import-prosody', join(work, 'nowhere'), '--config', cfg]);
    expect(r2.code).toBe(2);
    expect(r2.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe("Prosody's Lua data syntax (the strict reader)", () => {
  it('reads what util/serialization writes: escapes, numbers, booleans, nested and positional entries', async () => {
    const { parseDat, parseList, DataTable } = await import('../../src/config/lua/data-file.js');
    const v = parseDat('return {\n\t["a\\"b"] = "x\\n\\t\\\\\\195\\169\\0";\n\t[false] = { ["n"] = -1.5e3; ["i"] = 42; };\n\tplain = true;\n\t{ "one"; };\n\t"two";\n\t["inf"] = (1/0);\n};\n');
    expect(v).toBeInstanceOf(DataTable);
    const t = v as InstanceType<typeof DataTable>;
    expect(t.get('a"b')).toBe('x\n\t\\é\0');
    expect((t.get(false) as InstanceType<typeof DataTable>).get('n')).toBe(-1500);
    expect((t.get(false) as InstanceType<typeof DataTable>).get('i')).toBe(42);
    expect(t.get('plain')).toBe(true);
    expect(t.array()).toHaveLength(2);
    expect(t.get(2)).toBe('two');
    expect(t.get('inf')).toBe(Infinity);
    expect(parseList('item({ ["k"] = 1; });\nitem({ ["k"] = 2; });\n')).toHaveLength(2);
  });

  it('refuses anything that is not literal data', async () => {
    const { parseDat, parseList } = await import('../../src/config/lua/data-file.js');
    for (const bad of ['return os.execute("x");', 'return { ["a"] = f() };', 'return { "unterminated };', 'return { [1] = 1 } junk', 'return "\\300";', 'return "\\255";', 'return {']) {
      expect(() => parseDat(bad), bad).toThrow();
    }
    expect(() => parseList('item({});\nos.exit();')).toThrow();
  });
});
