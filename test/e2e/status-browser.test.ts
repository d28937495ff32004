// The status page in a real browser: Debian's headless Chromium logs in as an admin, the page
// refreshes itself, and numbers change live as a client logs in and talks (no reload by the
// test). A screenshot is saved as PNG under the test's temp dir (kept with CLOVE_KEEP_SCREENSHOT=1).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUsers, removeChildDir, startChild, type ChildServer } from '../helpers/child-server.js';
import { haveChromium, launchBrowser, type BrowserSession } from '../helpers/browser.js';
import { Wire, match } from '../helpers/wire.js';

let child: ChildServer;
let browser: BrowserSession | undefined;
let shots: string;

beforeAll(async () => {
  shots = await mkdtemp(join(tmpdir(), 'clove-status-'));
  child = await startChild({
    http: true,
    extra: ['modules_enabled = { "roster"; "http_status" }', 'admins = { "admin@localhost" }'].join('\n'),
  });
  await addUsers(child.configPath, [['admin@localhost', 'admin password'], ['alice@localhost', 'alice password']]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (child) {
    await child.kill('SIGTERM');
    await removeChildDir(child.dir);
  }
  if (!process.env.CLOVE_KEEP_SCREENSHOT) await rm(shots, { recursive: true, force: true });
}, 30_000);

/** A figure's raw value on the page (the `data-value` of its element). */
const figure = (id: string): Promise<string | undefined> => browser!.page.evaluate((i) => document.getElementById(i)?.dataset.value, id);

describe('/status in headless Chromium', () => {
  it.skipIf(!haveChromium())('shows live numbers that change between refreshes, and looks like a page', async () => {
    browser = await launchBrowser();
    const { page } = browser;
    await page.setExtraHTTPHeaders({ Authorization: `Basic ${Buffer.from('admin@localhost:admin password').toString('base64')}` });
    const res = await page.goto(`http://127.0.0.1:${child.httpPort}/status`, { timeout: 20_000 });
    expect(res?.status()).toBe(200);
    expect(await page.title()).toBe('Clove status');
    expect(await figure('sessions')).toBe('0');
    const firstUpdate = Number(await figure('updated'));

    // A client logs in and sends messages: the page's own refresh must show them.
    const alice = await Wire.login({ port: child.port, domain: 'localhost', username: 'alice', password: 'alice password', resource: 'r', timeoutMs: 15_000 });
    alice.send('<presence/>');
    for (let i = 0; i < 5; i++) alice.send(`<message to='alice@localhost/r' id='m${i}' type='chat'><body>${i}</body></message>`);
    await alice.waitFor(match('message', { id: 'm4' }), 10_000);
    await page.waitForFunction(() => document.getElementById('sessions')?.dataset.value === '1', undefined, { timeout: 20_000 });
    expect(Number(await figure('updated'))).toBeGreaterThan(firstUpdate);
    expect(Number(await figure('stanzas-in'))).toBeGreaterThan(0);
    expect(Number(await figure('rss'))).toBeGreaterThan(10 * 1024 * 1024);
    expect(await page.locator('#panel svg').count()).toBeGreaterThanOrEqual(8);
    expect(await page.locator('text=Sessions by host').count()).toBe(1);
    const sessionsCell = await page.locator('table').first().innerText();
    expect(sessionsCell).toMatch(/localhost\s+1/);

    const png = join(shots, 'status.png');
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.screenshot({ path: png, fullPage: true });
    const bytes = await readFile(png);
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(bytes.length).toBeGreaterThan(20_000);
    if (process.env.CLOVE_KEEP_SCREENSHOT) console.log(`status page screenshot: ${png}`);
    await alice.close();
  }, 90_000);
});
