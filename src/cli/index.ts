// The `clove` command: start the server and manage accounts and certificates, prosodyctl style.
// Exit codes: 0 ok, 1 usage, 2 the command failed — always with one clear line on stderr.
import { loadConfig, defaultConfig, configPathFrom, type Config } from '../config/config.js';
import { ConfigError } from '../config/errors.js';
import { ServerError } from '../core/errors.js';
import { writeFile } from 'node:fs/promises';
import { startServer } from '../main.js';
import { acquirePidfile, checkPidfile } from './pidfile.js';
import { reload, status, stop } from './control.js';
import { daemonize, isDaemonChild, notifyParent } from './daemon.js';
import { handleReload } from './reload.js';
import { limitYoungGeneration, releaseYoungGenerationWhenQuiet } from './heap.js';

const USAGE = `usage: clove [--config PATH] COMMAND
commands:
  start [-D|-F]         run the server: -D detaches (as daemonize = true), -F stays in the foreground
  adduser JID           create an account (password prompted, or a line of stdin; --password-stdin)
  adduser --batch       create accounts from "JID PASSWORD" lines on stdin
  passwd JID            change an account's password
  deluser JID           delete an account
  cert generate HOST [--days N]  write a self-signed certificate for HOST (valid N days, default 3650)
  check                 check the config (a line per statement), each host's certificate files and s2s routing (no network)
  check config          only the config: what Clove makes of each statement of it and its Includes; fails only on errors
  status                print whether the server runs; exit 0 running, 3 not running
  import-prosody DIR [--dry-run]  import Prosody's internal storage (accounts, rosters, vCards, …)
  migrate-storage FROM TO  copy all stored data between "file" and "sql" storage (server stopped)
  stop                  stop the server named by the pidfile (SIGTERM, waits for it to exit)
  restart               stop the running server (if any), then start it detached
  reload                check the config, then make the running server reload it (SIGHUP)
  register USER HOST PASSWORD  create an account (for scripts)
  unregister USER HOST  delete an account (for scripts)
  invite create HOST|USER@HOST [--reusable] [--expires-after 1w]  an account invitation: prints its xmpp: URI and page
  invite contact USER@HOST  an invitation to become USER's contact (registering an account if needed)
  invite list HOST | invite delete HOST ID  pending invitations; revoke one
  about                 print version, Node.js version, config file, hosts and modules
The config comes from --config PATH or $CLOVE_CONFIG; without either, the embedded default
(VirtualHost "localhost", ./data, ./certs) is used.`;

/** Run a command; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    const args = stripConfig(argv);
    const [cmd, ...rest] = args;
    if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
      process.stdout.write(USAGE + '\n');
      return cmd ? 0 : 1;
    }
    const config = await getConfig(argv);
    // As prosodyctl does for every command: what `register`, `cert generate`, … write is not world-readable either.
    process.umask(umaskOf(config));
    switch (cmd) {
      case 'start': return await start(config, rest, argv);
      // Every command but start loads its code when run: `clove start` carries none of it (issue 15).
      case 'adduser': await (await import('./accounts.js')).addUser(config, rest); return 0;
      case 'passwd': await (await import('./accounts.js')).passwd(config, rest); return 0;
      case 'deluser': await (await import('./accounts.js')).delUser(config, rest); return 0;
      case 'cert': await (await import('./cert.js')).certGenerate(config, rest); return 0;
      case 'check': return rest[0] === 'config' ? (await import('./check.js')).configCheck(config) : await (await import('./check.js')).check(config);
      case 'stop': return await stop(config);
      case 'reload': return reload(config);
      case 'restart': return await restart(config, argv);
      case 'status': return status(config);
      case 'import-prosody': return await (await import('./import-prosody/command.js')).importProsody(config, rest);
      case 'migrate-storage': return await (await import('./migrate-storage.js')).migrateStorage(config, rest);
      case 'register': await (await import('./accounts.js')).register(config, rest); return 0;
      case 'unregister': await (await import('./accounts.js')).unregister(config, rest); return 0;
      case 'invite': return await (await import('./invite.js')).invite(config, rest);
      case 'about': return await (await import('./about.js')).about(config);
      default:
        process.stderr.write(`clove: unknown command '${cmd}'\n${USAGE}\n`);
        return 1;
    }
  } catch (err) {
    notifyParent({ error: (err as Error)?.message ?? String(err) });
    return report(err);
  }
}

function report(err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`clove: ${err.message}\n`);
    return 2;
  }
  if (err instanceof ServerError) {
    process.stderr.write(`clove: ${err.message}\n`);
    return err.code === 'usage' ? 1 : 2;
  }
  process.stderr.write(`clove: ${(err as Error)?.message ?? String(err)}\n`);
  return 2;
}

function stripConfig(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--config') i++;
    else if (!a.startsWith('--config=')) out.push(a);
  }
  return out;
}

async function getConfig(argv: string[]): Promise<Config> {
  const path = configPathFrom(argv, process.env);
  return path ? loadConfig(path) : defaultConfig();
}

async function restart(config: Config, argv: string[]): Promise<number> {
  if (config.get<string | undefined>('pidfile') === undefined) throw new ServerError('config', `no pidfile is set in ${config.file}; cannot find the running server`);
  if (status(config, true) === 0) await stop(config);
  return start(config, ['-D'], argv.map((a) => (a === 'restart' ? 'start' : a)));
}

async function start(config: Config, rest: string[] = [], argv: string[] = []): Promise<number> {
  // As mod_posix does: a network daemon holding root turns any bug into a root compromise.
  if (process.getuid?.() === 0 && !config.get<boolean>('run_as_root')) {
    throw new ServerError('usage', `refusing to run as root; start Clove as an unprivileged user, or set run_as_root = true in ${config.file}`);
  }
  const pidfile = config.get<string | undefined>('pidfile');
  if (pidfile) checkPidfile(pidfile);
  const detach = !rest.includes('-F') && !rest.includes('--foreground') && (rest.includes('-D') || rest.includes('--daemonize') || config.get<boolean>('daemonize'));
  if (detach && !isDaemonChild()) {
    const pid = await daemonize(argv.includes('-D') ? argv : [...argv, '-D']);
    process.stderr.write(`clove started as PID ${pid}${pidfile ? ` (pidfile ${pidfile})` : ''}\n`);
    return 0;
  }
  limitYoungGeneration(config.get<number>('gc_young_generation_max'));
  if (config.get<boolean>('gc_release_when_idle')) releaseYoungGenerationWhenQuiet();
  const server = await startServer({ config });
  let releasePidfile = (): void => {};
  if (pidfile) {
    try {
      releasePidfile = acquirePidfile(pidfile);
      server.log.info(`pidfile ${pidfile} written (PID ${process.pid})`);
    } catch (err) {
      await server.stop('server shutting down (pidfile taken)');
      throw err;
    }
  }
  const statsFile = process.env.CLOVE_STATS_FILE;
  // For benchmarks: the server's own view of event-loop delay and memory, once a second.
  const statsTimer = statsFile
    ? setInterval(() => { void writeFile(statsFile, JSON.stringify(server.stats(process.env.CLOVE_STATS_RESET === '1')) + '\n').catch(() => {}); }, 1000)
    : undefined;
  statsTimer?.unref();
  const stopReload = handleReload(server);
  notifyParent({ ready: process.pid });
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      server.log.info(`${signal} received, shutting down`);
      void server.stop(`server shutting down (${signal})`);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // However it stops (a signal, or an administrator's shutdown command from inside): exit once it has.
    void server.stopped.then(() => {
      if (statsTimer) clearInterval(statsTimer);
      stopReload();
      releasePidfile();
      resolve(0);
    });
  });
}

/** The `umask` option (octal text such as "027"), 027 when unset: no file is world-readable. */
function umaskOf(config: Config): number {
  const text = config.get<string | undefined>('umask');
  if (text === undefined) return 0o027;
  if (!/^[0-7]{1,4}$/.test(text)) throw new ServerError('config', `${config.file}: umask = "${text}" is not an octal mask such as "027"`);
  return Number.parseInt(text, 8);
}
