// A real web client in a real browser (issue 14): headless Chromium (Debian's chromium) loads
// converse.js (npm, its dist/ served by a tiny test-only static server on 127.0.0.1) and logs in
// to a Clove child process over WebSocket, then over BOSH; each time the user types a message to
// a slixmpp user, and reads the answer in the page. The page's origin is another port than
// Clove's HTTP service, so cross_domain_websocket / cross_domain_bosh (CORS in the browser) are
// exercised too.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { haveChromium, launchBrowser, type BrowserSession } from '../helpers/browser.js';
import { startStaticServer, type StaticServer } from '../helpers/static-server.js';
import { Slixmpp } from '../helpers/slixmpp.js';

const PASS = 'browser-pass';
const DIST = join(REPO_ROOT, 'node_modules', 'converse.js', 'dist');
let srv: ChildServer;
let site: StaticServer;
let browser: BrowserSession;
let py: Slixmpp;
/** The same page under an .i2p name (mapped to 127.0.0.1 in the browser): not a secure context, as an eepsite is not. */
const eepsite = (): string => `http://converse.i2p:${site.port}`;

beforeAll(async () => {
  if (!haveChromium()) throw new Error('Debian\'s chromium is missing: apt-get install chromium (.ci/run does)');
  site = await startStaticServer(DIST);
  srv = await startChild({
    http: true,
    extra: [
      // What a fresh config enables, plus the two web endpoints. converse.js waits for its blocklist
      // and bookmarks to initialise before it opens a chat, so the server must offer both.
      'modules_enabled = { "roster", "disco", "ping", "vcard", "private", "blocklist", "carbons", "version", "time", "csi", "smacks", "vcard_update", "pep", "bookmarks", "vcard_legacy", "mam", "websocket", "bosh" }',
      `cross_domain_websocket = { "${site.origin}", "${eepsite()}" }`,
      `cross_domain_bosh = { "${site.origin}" }`,
    ].join('\n'),
  });
  await addUsers(srv.configPath, [['alice@localhost', PASS], ['bob@localhost', PASS], ['carol@localhost', PASS], ['dave@localhost', PASS]]);
  py = await Slixmpp.start(srv);
  await py.connect('bob', 'bob@localhost', PASS, { resource: 'slix' });
  await py.call('presence', { name: 'bob' }); // available: messages to the bare JID reach it
  browser = await launchBrowser({ args: ['--host-resolver-rules=MAP *.i2p 127.0.0.1'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await py?.stop();
  await srv?.kill();
  if (srv) await removeChildDir(srv.dir);
  await site?.close();
});

/**
 * A page that starts converse.js, logged in as `jid`, over `connection` (websocket_url or
 * bosh_service_url). With `plainWithoutWebCrypto`, the recipe of docs/web-clients.md: outside a
 * secure context the browser has no WebCrypto, which converse.js's SCRAM needs, so SCRAM is
 * switched off there and PLAIN is used (inside i2pd's encrypted tunnel).
 */
function conversePage(connection: Record<string, string>, jid: string, plainWithoutWebCrypto = false): string {
  const settings = {
    ...connection,
    jid,
    password: PASS,
    auto_login: true,
    discover_connection_methods: false,
    allow_non_roster_messaging: true,
    auto_reconnect: false,
    view_mode: 'fullscreen',
    assets_path: '/dist/',
    play_sounds: false,
    show_send_button: true,
    whitelisted_plugins: ['clove-test'],
    blacklisted_plugins: ['converse-omemo'], // end-to-end encryption is not what is tested here
    loglevel: 'info',
  };
  return `<!doctype html><html><head><meta charset="utf-8"><title>converse.js on Clove</title>
<link rel="stylesheet" href="/dist/converse.min.css"></head>
<body><script type="module">
import converse from '/dist/converse.min.js';
${plainWithoutWebCrypto ? WEBCRYPTO_RECIPE : ''}
converse.plugins.add('clove-test', { initialize() {
  const { _converse } = this;
  window.cloveTest = _converse;
  _converse.api.listen.on('connected', () => { window.cloveConnected = true; });
} });
converse.initialize(${JSON.stringify(settings)});
</script></body></html>`;
}

/** docs/web-clients.md: no SCRAM where the page is not a secure context (no crypto.subtle). */
const WEBCRYPTO_RECIPE = `const { Strophe } = converse.env;
if (!window.isSecureContext) {
  for (const M of [Strophe.SASLSHA1, Strophe.SASLSHA256, Strophe.SASLSHA384, Strophe.SASLSHA512]) M.prototype.test = () => false;
}`;

/** Poll `check` in the page until it returns true (Node-side polling: page timers may be throttled headless). */
async function pageUntil(what: string, check: () => boolean, timeoutMs: number, errors: string[]): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await browser.page.evaluate(check))) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; page errors: ${errors.join('; ') || 'none'}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface TestWindow {
  cloveConnected?: boolean;
  cloveTest: { api: { chats: { open(jid: string, attrs: object, force: boolean): Promise<unknown> }; user: { logout(): Promise<unknown> } } };
}

/** Log in through the page, type `text` to bob, and read bob's answer in the page. */
async function chatThroughTheBrowser(connection: Record<string, string>, user: string, text: string, origin = site.origin, plainWithoutWebCrypto = false): Promise<void> {
  const page = browser.page;
  const errors: string[] = [];
  const onError = (e: Error): void => { errors.push(e.message); };
  page.on('pageerror', onError);
  try {
    site.setPage(conversePage(connection, `${user}@localhost`, plainWithoutWebCrypto));
    await page.goto(`${origin}/`, { waitUntil: 'domcontentloaded', timeout: 20_000 });
    await pageUntil('converse.js to log in', () => (window as unknown as TestWindow).cloveConnected === true, 30_000, errors);
    await page.evaluate(async () => { await (window as unknown as TestWindow).cloveTest.api.chats.open('bob@localhost', {}, true); });
    // Type as a user would, into the chat's text area, and send with Enter.
    const textarea = page.locator('textarea.chat-textarea');
    await pageUntil('the chat box', () => document.querySelector('textarea.chat-textarea') !== null, 15_000, errors);
    await textarea.fill(text);
    await textarea.press('Enter');
    const got = await py.waitFor('bob', (el) => el.name === 'message' && el.getChildText('body') === text, 'the message typed in the browser', 15_000);
    expect(String(got.attrs.from)).toMatch(new RegExp(`^${user}@localhost/`));
    const answer = `${text}: got it`;
    await py.call('message', { name: 'bob', to: String(got.attrs.from), body: answer });
    await page.evaluate((a) => { (window as unknown as { cloveAnswer: string }).cloveAnswer = a; }, answer);
    await pageUntil('the answer shown in the chat', () => [...document.querySelectorAll('.chat-msg__text')].some((e) => e.textContent?.includes((window as unknown as { cloveAnswer: string }).cloveAnswer)), 15_000, errors);
    await page.evaluate(async () => { await (window as unknown as TestWindow).cloveTest.api.user.logout(); });
  } finally {
    page.off('pageerror', onError);
  }
}

describe('converse.js in headless Chromium', () => {
  it('logs in over WebSocket and exchanges a message both ways with a slixmpp user', async () => {
    await chatThroughTheBrowser({ websocket_url: `ws://127.0.0.1:${srv.httpPort}/xmpp-websocket` }, 'alice', 'hello over websocket');
  }, 90_000);

  it('logs in over BOSH and exchanges a message both ways with a slixmpp user', async () => {
    await chatThroughTheBrowser({ bosh_service_url: `http://127.0.0.1:${srv.httpPort}/http-bind` }, 'carol', 'hello over bosh');
  }, 90_000);

  it('works from an .i2p page, which is no secure context, with the PLAIN recipe of docs/web-clients.md', async () => {
    await browser.page.goto(`${eepsite()}/`, { waitUntil: 'domcontentloaded', timeout: 20_000 });
    // Why the recipe: no WebCrypto here, and converse.js's SCRAM needs it.
    expect(await browser.page.evaluate(() => [window.isSecureContext, typeof crypto.subtle])).toEqual([false, 'undefined']);
    await chatThroughTheBrowser({ websocket_url: `ws://127.0.0.1:${srv.httpPort}/xmpp-websocket` }, 'dave', 'hello from an eepsite', eepsite(), true);
  }, 90_000);
});
