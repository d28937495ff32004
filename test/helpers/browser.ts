// A real browser for e2e tests: Debian's headless Chromium (/usr/bin/chromium), driven through
// playwright-core over the DevTools protocol. We spawn Chromium ourselves (not Playwright's
// launcher) so the flags are exactly ours, the profile is a fresh temp directory, nothing is ever
// downloaded, and close() can stop it by its PID (its own process group, so the renderer and
// zygote children go too).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = process.env.CLOVE_CHROMIUM ?? '/usr/bin/chromium';

/** Flags for a quiet, self-contained headless run (no network of its own, no sandbox as root). */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--remote-debugging-address=127.0.0.1',
  '--remote-debugging-port=0',
];

export interface BrowserSession {
  readonly pid: number;
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Everything Chromium wrote to stderr (for a failing test's message). */
  stderr(): string;
  /** Disconnect, stop Chromium by its PID (process group) and remove the temp profile. */
  close(): Promise<void>;
}

/** True when the Chromium binary is installed (tests may skip with a clear reason otherwise). */
export function haveChromium(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** Launch headless Chromium with a fresh profile and return a page in it; `args` are extra flags. */
export async function launchBrowser(opts: { timeoutMs?: number; args?: readonly string[] } = {}): Promise<BrowserSession> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const profile = await mkdtemp(join(tmpdir(), 'clove-chromium-'));
  const child = spawn(CHROMIUM_PATH, [...FLAGS, ...(opts.args ?? []), `--user-data-dir=${profile}`, 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true, // its own process group: close() stops the helpers with it
  });
  const pid = child.pid;
  if (pid === undefined) {
    await rm(profile, { recursive: true, force: true });
    throw new Error(`could not start ${CHROMIUM_PATH}`);
  }
  let err = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      try { process.kill(-pid, 'SIGTERM'); } catch { /* already gone */ }
      const timer = new Promise<void>((resolve) => setTimeout(resolve, 3000).unref());
      await Promise.race([exited, timer]);
      try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
      await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 2000).unref())]);
    }
    await rm(profile, { recursive: true, force: true });
  };
  try {
    const wsUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`chromium did not start in ${timeoutMs} ms: ${err}`)), timeoutMs);
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        err += chunk;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`chromium exited (${code ?? signal}) before listening: ${err}`));
      });
    });
    const browser = await chromium.connectOverCDP(wsUrl, { timeout: timeoutMs });
    const context = browser.contexts()[0] ?? await browser.newContext();
    const page = context.pages()[0] ?? await context.newPage();
    return {
      pid,
      browser,
      context,
      page,
      stderr: () => err,
      close: async () => {
        await browser.close().catch(() => undefined);
        await kill();
      },
    };
  } catch (e) {
    await kill();
    throw e;
  }
}
