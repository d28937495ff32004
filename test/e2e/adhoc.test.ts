// Admin ad-hoc commands (XEP-0050, XEP-0133) end to end with the raw client: the command list
// in disco, each command run by an admin through its form, each refused to a non-admin, and
// the bad input XEP-0050 names (missing field, malformed form, unknown session). Shut down
// runs last, on its own server.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type El, match, Wire, xmlEscape } from '../helpers/wire.js';
import { testUsers } from '../helpers/contacts.js';
import { PythonProcess } from '../helpers/slixmpp.js';
import { addUsers, removeChildDir, startChild } from '../helpers/child-server.js';

const NS_CMD = 'http://jabber.org/protocol/commands';
const NS_ADMIN = 'http://jabber.org/protocol/admin';
const NS_DATA = 'jabber:x:data';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
const RELOAD = 'http://prosody.im/protocol/config#reload';
const node = (name: string): string => `${NS_ADMIN}#${name}`;
const ALL = [
  'add-user', 'delete-user', 'change-user-password', 'end-user-session', 'get-user-roster', 'user-stats',
  'get-online-users-list', 'get-registered-users-num', 'get-online-users-num', 'announce', 'shutdown',
].map(node).concat(RELOAD);
const PASS = 'adhoc-pass';

let ts: TestServer;
let admin: Wire;
let mallory: Wire;
const { login, closeAll } = testUsers(() => ts, PASS);

const HOST_CONFIG = 'admins = { "boss@localhost" }';

beforeAll(async () => {
  ts = await startTestServer({ hosts: `VirtualHost "localhost"\n  ${HOST_CONFIG}` });
  for (const u of ['boss', 'mallory', 'target', 'victim', 'listener']) await ts.addUser(u, PASS);
  admin = await login('boss', 'desk');
  mallory = await login('mallory');
});
afterAll(async () => {
  await closeAll();
  await ts?.stop();
});

const condition = (iq: El): string | undefined => iq.getChild('error')?.elements().find((e) => e.xmlns === NS_STANZAS)?.name;
const commandCondition = (iq: El): string | undefined => iq.getChild('error')?.elements().find((e) => e.xmlns === NS_CMD)?.name;
const commandOf = (iq: El): El => {
  expect(iq.attrs.type, iq.toString()).toBe('result');
  return iq.getChild('command', NS_CMD)!;
};
const fieldValues = (form: El | undefined, name: string): string[] =>
  form?.getChildren('field').find((f) => f.attrs.var === name)?.getChildren('value').map((v) => v.text()) ?? [];

function execute(c: Wire, n: string, body = '', attrs = ''): Promise<El> {
  return c.iq(`<iq type='set' to='localhost'><command xmlns='${NS_CMD}' node='${n}' ${attrs}>${body}</command></iq>`);
}

/** A submitted form with FORM_TYPE and these fields. */
function submitted(fields: Record<string, string | string[]>, type = 'submit'): string {
  const f = Object.entries(fields).map(([k, v]) => `<field var='${k}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${xmlEscape(x)}</value>`).join('')}</field>`);
  return `<x xmlns='${NS_DATA}' type='${type}'><field var='FORM_TYPE' type='hidden'><value>${NS_ADMIN}</value></field>${f.join('')}</x>`;
}

/** Execute → form → submit; returns the reply to the submission. */
async function run(c: Wire, n: string, fields: Record<string, string | string[]>): Promise<El> {
  const first = commandOf(await execute(c, n, '', "action='execute'"));
  expect(first.attrs.status).toBe('executing');
  const sessionid = first.attrs.sessionid!;
  expect(sessionid).toBeTruthy();
  return execute(c, n, submitted(fields), `sessionid='${sessionid}' action='complete'`);
}

/** Run a command that has no form. */
async function runDirect(c: Wire, n: string): Promise<El> {
  const cmd = commandOf(await execute(c, n));
  expect(cmd.attrs.status).toBe('completed');
  return cmd;
}

describe('discovery', () => {
  it('advertises ad-hoc commands and lists the admin commands to admins only', async () => {
    const info = await admin.iq(`<iq type='get' to='localhost'><query xmlns='${NS_DISCO_INFO}'/></iq>`);
    expect(info.getChild('query')!.getChildren('feature').map((f) => f.attrs.var)).toContain(NS_CMD);

    const items = await admin.iq(`<iq type='get' to='localhost'><query xmlns='${NS_DISCO_ITEMS}' node='${NS_CMD}'/></iq>`);
    expect(items.attrs.type).toBe('result');
    const q = items.getChild('query', NS_DISCO_ITEMS)!;
    expect(q.attrs.node).toBe(NS_CMD);
    const listed = q.getChildren('item');
    expect(listed.map((i) => i.attrs.node).sort()).toEqual([...ALL].sort());
    for (const i of listed) {
      expect(i.attrs.jid).toBe('localhost');
      expect(i.attrs.name).toBeTruthy();
    }

    const none = await mallory.iq(`<iq type='get' to='localhost'><query xmlns='${NS_DISCO_ITEMS}' node='${NS_CMD}'/></iq>`);
    expect(none.attrs.type).toBe('result');
    expect(none.getChild('query')!.getChildren('item')).toEqual([]);

    // The plain disco#items of the host is still the disco module's, without the commands.
    const plain = await admin.iq(`<iq type='get' to='localhost'><query xmlns='${NS_DISCO_ITEMS}'/></iq>`);
    expect(plain.getChild('query')!.getChildren('item').filter((i) => i.attrs.node?.startsWith(NS_ADMIN))).toEqual([]);
  });

  it("describes a command's node to an admin and refuses others", async () => {
    const info = await admin.iq(`<iq type='get' to='localhost'><query xmlns='${NS_DISCO_INFO}' node='${node('add-user')}'/></iq>`);
    expect(info.attrs.type, info.toString()).toBe('result');
    const q = info.getChild('query')!;
    expect(q.getChild('identity')!.attrs).toMatchObject({ category: 'automation', type: 'command-node', name: 'Add User' });
    expect(q.getChildren('feature').map((f) => f.attrs.var)).toEqual([NS_CMD, NS_DATA]);
    const refused = await mallory.iq(`<iq type='get' to='localhost'><query xmlns='${NS_DISCO_INFO}' node='${node('add-user')}'/></iq>`);
    expect(condition(refused)).toBe('forbidden');
  });
});

describe('every command is refused to a non-admin', () => {
  it.each(ALL)('%s → forbidden', async (n) => {
    const r = await execute(mallory, n);
    expect(r.attrs.type).toBe('error');
    expect(condition(r)).toBe('forbidden');
    // Also with a filled-in form on the first request.
    const direct = await execute(mallory, n, submitted({ accountjid: 'mallory@localhost', accountjids: 'boss@localhost', password: 'x' }));
    expect(condition(direct)).toBe('forbidden');
  });

  it('an unknown command is item-not-found', async () => {
    expect(condition(await execute(admin, node('no-such-command')))).toBe('item-not-found');
  });
});

describe('account commands', () => {
  it('add user: a form with required fields, then an account that can log in', async () => {
    const first = commandOf(await execute(admin, node('add-user')));
    expect(first.attrs).toMatchObject({ node: node('add-user'), status: 'executing' });
    expect(first.getChild('actions')!.attrs.execute).toBe('complete');
    const form = first.getChild('x', NS_DATA)!;
    expect(form.attrs.type).toBe('form');
    expect(fieldValues(form, 'FORM_TYPE')).toEqual([NS_ADMIN]);
    const required = form.getChildren('field').filter((f) => f.getChild('required')).map((f) => f.attrs.var);
    expect(required).toEqual(['accountjid', 'password']);

    const done = commandOf(await execute(admin, node('add-user'), submitted({ accountjid: 'newbie@localhost', password: 'fresh pass', 'password-verify': 'fresh pass' }), `sessionid='${first.attrs.sessionid}'`));
    expect(done.attrs).toMatchObject({ status: 'completed', sessionid: first.attrs.sessionid });
    expect(done.getChild('note')!.attrs.type).toBe('info');
    const c = await login('newbie', 'r', 'fresh pass');
    expect(c.jid).toBe('newbie@localhost/r');

    const again = await run(admin, node('add-user'), { accountjid: 'newbie@localhost', password: 'x' });
    expect(condition(again)).toBe('conflict');
  });

  it('a missing required field is bad-request with <bad-payload/>, and nothing is created', async () => {
    const r = await run(admin, node('add-user'), { accountjid: 'half@localhost' });
    expect(r.attrs.type).toBe('error');
    expect(condition(r)).toBe('bad-request');
    expect(commandCondition(r)).toBe('bad-payload');
    expect(r.getChild('error')!.getChildText('text', NS_STANZAS)).toContain('password');
    expect(await ts.server.hosts.get('localhost')!.accounts.exists('half')).toBe(false);

    const blank = await run(admin, node('change-user-password'), { accountjid: 'target@localhost', password: '   ' });
    expect(commandCondition(blank)).toBe('bad-payload');
  });

  it('malformed forms and bad sessions get the XEP-0050 conditions', async () => {
    const first = commandOf(await execute(admin, node('add-user')));
    const wrongType = await execute(admin, node('add-user'), submitted({ accountjid: 'x@localhost', password: 'p' }, 'form'), `sessionid='${first.attrs.sessionid}'`);
    expect(commandCondition(wrongType)).toBe('bad-payload');
    // The session ended with the error.
    const gone = await execute(admin, node('add-user'), submitted({ accountjid: 'x@localhost', password: 'p' }), `sessionid='${first.attrs.sessionid}'`);
    expect(condition(gone)).toBe('bad-request');
    expect(commandCondition(gone)).toBe('bad-sessionid');

    const mismatch = await run(admin, node('add-user'), { accountjid: 'y@localhost', password: 'a', 'password-verify': 'b' });
    expect(commandCondition(mismatch)).toBe('bad-payload');
    const foreign = await run(admin, node('add-user'), { accountjid: 'y@elsewhere.example', password: 'a' });
    expect(commandCondition(foreign)).toBe('bad-payload');
    const notJid = await run(admin, node('add-user'), { accountjid: '@@@', password: 'a' });
    expect(commandCondition(notJid)).toBe('bad-payload');
    const badAction = await execute(admin, node('add-user'), '', "action='explode'");
    expect(commandCondition(badAction)).toBe('malformed-action');
    const noField = await execute(admin, node('add-user'), `<x xmlns='${NS_DATA}' type='submit'><field><value>v</value></field></x>`);
    expect(commandCondition(noField)).toBe('bad-payload');

    // Another user cannot continue an admin's session.
    const s = commandOf(await execute(admin, node('user-stats')));
    const other = await login('boss', 'laptop');
    const hijack = await execute(other, node('user-stats'), submitted({ accountjid: 'boss@localhost' }), `sessionid='${s.attrs.sessionid}'`);
    expect(commandCondition(hijack)).toBe('bad-sessionid');
    for (const u of ['x', 'y']) expect(await ts.server.hosts.get('localhost')!.accounts.exists(u)).toBe(false);
  });

  it('cancel ends a session', async () => {
    const first = commandOf(await execute(admin, node('add-user')));
    const canceled = commandOf(await execute(admin, node('add-user'), '', `sessionid='${first.attrs.sessionid}' action='cancel'`));
    expect(canceled.attrs.status).toBe('canceled');
    const later = await execute(admin, node('add-user'), submitted({ accountjid: 'z@localhost', password: 'p' }), `sessionid='${first.attrs.sessionid}'`);
    expect(commandCondition(later)).toBe('bad-sessionid');
  });

  it('change user password: the new one works, the old one not', async () => {
    const done = commandOf(await run(admin, node('change-user-password'), { accountjid: 'target@localhost', password: 'changed pass' }));
    expect(done.attrs.status).toBe('completed');
    await expect(login('target', 'old', PASS)).rejects.toThrow(/authentication failed/);
    const c = await login('target', 'new', 'changed pass');
    expect(c.jid).toBe('target@localhost/new');
    const missing = await run(admin, node('change-user-password'), { accountjid: 'nobody@localhost', password: 'x' });
    expect(condition(missing)).toBe('item-not-found');
  });

  it('get user roster and user statistics', async () => {
    await ts.addUser('rosie', PASS);
    const rosie = await login('rosie', 'phone');
    const set = await rosie.iq(`<iq type='set'><query xmlns='jabber:iq:roster'><item jid='friend@example.org' name='Friend'><group>Pals</group></item></query></iq>`);
    expect(set.attrs.type).toBe('result');

    const roster = commandOf(await run(admin, node('get-user-roster'), { accountjid: 'rosie@localhost' }));
    expect(roster.attrs.status).toBe('completed');
    const x = roster.getChild('x', NS_DATA)!;
    expect(x.attrs.type).toBe('result');
    expect(fieldValues(x, 'accountjid')).toEqual(['rosie@localhost']);
    expect(fieldValues(x, 'roster')).toEqual(['friend@example.org (none) Friend']);
    const item = x.getChild('query', 'jabber:iq:roster')!.getChild('item')!;
    expect(item.attrs).toMatchObject({ jid: 'friend@example.org', name: 'Friend', subscription: 'none' });
    expect(item.getChildText('group')).toBe('Pals');

    const stats = commandOf(await run(admin, node('user-stats'), { accountjid: 'rosie@localhost' })).getChild('x', NS_DATA)!;
    expect(fieldValues(stats, 'rostersize')).toEqual(['1']);
    expect(fieldValues(stats, 'onlineresources')).toEqual(['phone']);
    // Addresses are never reported.
    expect(fieldValues(stats, 'ipaddresses')).toEqual([]);
    const unknown = await run(admin, node('get-user-roster'), { accountjid: 'ghost@localhost' });
    expect(condition(unknown)).toBe('item-not-found');
  });

  it('end user session: a full JID ends one session, a bare JID all', async () => {
    const a = await login('victim', 'one');
    const b = await login('victim', 'two');
    const one = commandOf(await run(admin, node('end-user-session'), { accountjids: 'victim@localhost/one' }));
    expect(one.getChild('note')!.text()).toContain('1 session');
    await expect(a.waitFor(match('never'), 2000)).rejects.toThrow(/policy-violation/);
    expect(b.closed).toBe(false);
    await run(admin, node('end-user-session'), { accountjids: ['victim@localhost'] });
    await expect(b.waitFor(match('never'), 2000)).rejects.toThrow(/policy-violation/);
  });

  it('delete user: checks every name first, then ends sessions and removes the account', async () => {
    await ts.addUser('doomed', PASS);
    const d = await login('doomed');
    const partial = await run(admin, node('delete-user'), { accountjids: ['doomed@localhost', 'ghost@localhost'] });
    expect(condition(partial)).toBe('item-not-found');
    expect(d.closed).toBe(false);
    expect(await ts.server.hosts.get('localhost')!.accounts.exists('doomed')).toBe(true);

    const done = commandOf(await run(admin, node('delete-user'), { accountjids: ['doomed@localhost'] }));
    expect(done.attrs.status).toBe('completed');
    await expect(d.waitFor(match('never'), 2000)).rejects.toThrow(/not-authorized/);
    expect(await ts.server.hosts.get('localhost')!.accounts.exists('doomed')).toBe(false);
    await expect(login('doomed')).rejects.toThrow(/authentication failed/);
  });

  it('accepts the filled-in form on the first request (scripts)', async () => {
    const done = commandOf(await execute(admin, node('add-user'), submitted({ accountjid: 'scripted@localhost', password: 'pw' })));
    expect(done.attrs.status).toBe('completed');
    expect(await ts.server.hosts.get('localhost')!.accounts.exists('scripted')).toBe(true);
  });
});

describe('users online', () => {
  it('lists and counts online users and registered accounts', async () => {
    await login('listener', 'a');
    await login('listener', 'b');
    const list = commandOf(await run(admin, node('get-online-users-list'), { max_items: '100' })).getChild('x', NS_DATA)!;
    const online = fieldValues(list, 'onlineuserjids');
    expect(online).toContain('listener@localhost');
    expect(online).toContain('boss@localhost');
    expect(new Set(online).size).toBe(online.length);
    const limited = commandOf(await run(admin, node('get-online-users-list'), { max_items: '1' })).getChild('x', NS_DATA)!;
    expect(fieldValues(limited, 'onlineuserjids')).toHaveLength(1);

    const onlineNum = (await runDirect(admin, node('get-online-users-num'))).getChild('x', NS_DATA)!;
    expect(Number(fieldValues(onlineNum, 'onlineusersnum')[0])).toBe(online.length);
    const registered = (await runDirect(admin, node('get-registered-users-num'))).getChild('x', NS_DATA)!;
    const accounts = await ts.server.hosts.get('localhost')!.accounts.list();
    expect(fieldValues(registered, 'registeredusersnum')).toEqual([String(accounts.length)]);
  });

  it('sends an announcement to every online session', async () => {
    const l = await login('listener', 'ann');
    const lines = ['Maintenance tonight', 'at 22:00 UTC'];
    const done = commandOf(await run(admin, node('announce'), { subject: 'Notice', announcement: lines }));
    expect(done.getChild('note')!.text()).toMatch(/Sent to \d+ session/);
    const m = await l.waitFor(match('message', { from: 'localhost', type: 'headline' }));
    expect(m.getChildText('subject')).toBe('Notice');
    expect(m.getChildText('body')).toBe(lines.join('\n'));
    const missing = await run(admin, node('announce'), { subject: 'Empty' });
    expect(commandCondition(missing)).toBe('bad-payload');
  });
});

describe("slixmpp's xep_0050", () => {
  /** Run test/e2e/py/everyday.py's ad-hoc part as `user`; returns its result line. */
  async function slix(user: string, newUser: string): Promise<Record<string, unknown>> {
    const py = new PythonProcess(fileURLToPath(new URL('py/everyday.py', import.meta.url)), {
      args: ['--port', String(ts.port), '--jid', `${user}@localhost`, '--password', PASS, '--what', 'adhoc', '--new-user', newUser, '--new-password', 'slix pass'],
      timeoutMs: 40_000,
    });
    try {
      const line = await py.waitLine((l) => l.event === 'result' || l.event === 'error', 'result line', 30_000);
      expect(line.event, JSON.stringify(line)).toBe('result');
      return line;
    } finally {
      await py.finish();
    }
  }

  it('lists the commands and adds a user through the form, as an admin', async () => {
    const r = await slix('boss', 'slixuser@localhost');
    expect(r.commands).toEqual([...ALL].sort());
    expect(r.form_fields).toEqual(['FORM_TYPE', 'accountjid', 'password', 'password-verify']);
    expect(r.add_user).toEqual({ status: 'completed', notes: [['info', 'Created slixuser@localhost.']] });
    expect(Number(r.registered)).toBe((await ts.server.hosts.get('localhost')!.accounts.list()).length);
    const c = await login('slixuser', 'r', 'slix pass');
    expect(c.jid).toBe('slixuser@localhost/r');
  });

  it('gets an empty list and forbidden as a non-admin', async () => {
    const r = await slix('mallory', 'nope@localhost');
    expect(r.commands).toEqual([]);
    expect(r.add_user).toEqual({ error: 'forbidden', command_error: [] });
    expect(await ts.server.hosts.get('localhost')!.accounts.exists('nope')).toBe(false);
  });
});

describe('configuration', () => {
  const file = (): string => join(ts.dir, 'test.cfg.lua');
  const base = (): string => [
    'interfaces = { "127.0.0.1" }',
    'c2s_ports = { 0 }',
    's2s_ports = { }',
    `data_path = ${JSON.stringify(join(ts.dir, 'data'))}`,
    `certificates = ${JSON.stringify(ts.server.config.get<string>('certificates'))}`,
    'clove_bcrypt_cost = 4',
    '',
    'VirtualHost "localhost"',
    `  ${HOST_CONFIG}`,
  ].join('\n');

  it('reload re-reads the file, applies what it can and names what waits for a restart', async () => {
    await writeFile(file(), base());
    const same = await runDirect(admin, RELOAD);
    expect(same.getChild('note')!.attrs.type).toBe('info');
    expect(same.getChild('note')!.text()).toContain('nothing to apply');

    await writeFile(file(), base().replace('clove_bcrypt_cost = 4', 'clove_bcrypt_cost = 5\nallow_registration = true'));
    const changed = await runDirect(admin, RELOAD);
    const note = changed.getChild('note')!;
    expect(note.attrs.type).toBe('warn');
    expect(note.text()).toContain('applied: allow_registration; these apply after a restart (clove restart): clove_bcrypt_cost');
    const form = changed.getChild('x', NS_DATA);
    expect(fieldValues(form, 'changed').sort()).toEqual(['allow_registration', 'clove_bcrypt_cost']);
    expect(fieldValues(form, 'applied')).toEqual(['allow_registration']);
    expect(fieldValues(form, 'restart')).toEqual(['clove_bcrypt_cost']);
    // Applied for real: a new connection now gets the registration form.
    const probe = await Wire.open({ port: ts.port });
    try {
      await probe.startTls();
      expect((await probe.iq(`<iq type='get' id='reg'><query xmlns='jabber:iq:register'/></iq>`)).attrs.type).toBe('result');
    } finally {
      probe.destroy();
    }
    // Putting the file back closes registration again, and the bcrypt cost matches the running
    // one again: nothing waits for a restart any more.
    await writeFile(file(), base());
    const back = (await runDirect(admin, RELOAD)).getChild('x', NS_DATA);
    expect(fieldValues(back, 'applied').sort()).toEqual(['allow_registration', 'clove_bcrypt_cost']);
    expect(fieldValues(back, 'restart')).toEqual([]);

    await writeFile(file(), base() + '\nc2s_timeout = {');
    const broken = await runDirect(admin, RELOAD);
    expect(broken.getChild('note')!.attrs.type).toBe('error');
    expect(broken.getChild('note')!.text()).toMatch(/test\.cfg\.lua:10: .*'}'/);
    expect(broken.getChild('note')!.text()).toContain('Nothing was applied');
  });
});

describe('shut down', () => {
  let other: TestServer | undefined;
  afterAll(async () => {
    await other?.stop();
  });

  it('stops the server: the admin gets the reply, then everyone a system-shutdown', async () => {
    other = await startTestServer({ extra: 'admins = { "boss@localhost" }' });
    await other.addUser('boss', PASS);
    await other.addUser('user', PASS);
    const boss = await Wire.login({ port: other.port, username: 'boss', password: PASS, resource: 'r' });
    const user = await Wire.login({ port: other.port, username: 'user', password: PASS, resource: 'r' });
    const first = commandOf(await boss.iq(`<iq type='set' to='localhost'><command xmlns='${NS_CMD}' node='${node('shutdown')}' action='execute'/></iq>`));
    const form = first.getChild('x', NS_DATA)!;
    expect(form.getChildren('field').map((f) => f.attrs.var)).toEqual(['FORM_TYPE', 'delay', 'announcement']);
    const done = commandOf(await boss.iq(`<iq type='set' to='localhost'><command xmlns='${NS_CMD}' node='${node('shutdown')}' sessionid='${first.attrs.sessionid}'>${submitted({ delay: '0', announcement: 'Going down' })}</command></iq>`));
    expect(done.attrs.status).toBe('completed');
    expect(done.getChild('note')!.text()).toContain('Shutting down');
    const ann = await user.waitFor(match('message', { type: 'headline' }));
    expect(ann.getChildText('body')).toBe('Going down');
    await expect(user.waitFor(match('never'), 3000)).rejects.toThrow(/system-shutdown/);
    await expect(boss.waitFor(match('never'), 3000)).rejects.toThrow(/system-shutdown/);
    // Nothing listens any more.
    await expect(Wire.open({ port: other.port, timeoutMs: 1000 })).rejects.toThrow();
  });
});

describe('as `clove start` in a child process', () => {
  it('reload checks the real config file; shutdown ends the process with exit code 0', async () => {
    const child = await startChild({ extra: 'admins = { "boss@localhost" }' });
    try {
      await addUsers(child.configPath, [['boss@localhost', PASS]]);
      const boss = await Wire.login({ port: child.port, username: 'boss', password: PASS, resource: 'r' });
      const reload = commandOf(await execute(boss, RELOAD));
      expect(reload.getChild('note')!.attrs.type, reload.toString()).toBe('info');
      expect(reload.getChild('note')!.text()).toContain(`${child.configPath} is valid`);

      const first = commandOf(await execute(boss, node('shutdown')));
      const done = commandOf(await execute(boss, node('shutdown'), submitted({ delay: '0' }), `sessionid='${first.attrs.sessionid}'`));
      expect(done.attrs.status).toBe('completed');
      await expect(boss.waitFor(match('never'), 5000)).rejects.toThrow(/system-shutdown/);
      expect(await child.exited).toEqual({ code: 0, signal: null });
      expect(child.stderr()).not.toMatch(/unsettled/i);
    } finally {
      await child.kill('SIGKILL').catch(() => undefined);
      await removeChildDir(child.dir);
    }
  });
});
