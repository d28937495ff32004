// The `clove` command: start the server and manage accounts and certificates, prosodyctl style.
// Exit codes: 0 ok, 1 usage, 2 the command failed — always with one clear line on stderr.
import { loadConfig, defaultConfig, configPathFrom, type Config } from '../config/config.js';
import { ConfigError } from '../config/errors.js';
import { ServerError } from '../core/errors.js';
import { writeFile } from 'node:fs/promises';
import { startServer } from '../main.js';
import { addUser, passwd, delUser } from './accounts.js';
import { certGenerate } from './cert.js';
import { resolveModules } from '../modules/index.js';

const USAGE = `usage: clove [--config PATH] COMMAND
commands:
  start                 run the server in the foreground
  adduser JID           create an account (password prompted, or read from stdin)
  adduser --batch       create accounts from "JID PASSWORD" lines on stdin
  passwd JID            change an account's password
  deluser JID           delete an account
  cert generate HOST    write a self-signed certificate for HOST to the certificates folder
  check                 load the config and report problems
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
    switch (cmd) {
      case 'start': return await start(config);
      case 'adduser': await addUser(config, rest); return 0;
      case 'passwd': await passwd(config, rest); return 0;
      case 'deluser': await delUser(config, rest); return 0;
      case 'cert': await certGenerate(config, rest); return 0;
      case 'check': return check(config);
      default:
        process.stderr.write(`clove: unknown command '${cmd}'\n${USAGE}\n`);
        return 1;
    }
  } catch (err) {
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

function check(config: Config): number {
  const warnings = [...config.warnings];
  for (const host of config.virtualHosts()) {
    for (const w of resolveModules(config, host).warnings) if (!warnings.includes(w)) warnings.push(w);
  }
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(`${config.file}: OK (${config.virtualHosts().length} host(s): ${config.virtualHosts().join(', ')})\n`);
  return 0;
}

async function start(config: Config): Promise<number> {
  const server = await startServer({ config });
  const statsFile = process.env.CLOVE_STATS_FILE;
  // For benchmarks: the server's own view of event-loop delay and memory, once a second.
  const statsTimer = statsFile
    ? setInterval(() => { void writeFile(statsFile, JSON.stringify(server.stats(process.env.CLOVE_STATS_RESET === '1')) + '\n').catch(() => {}); }, 1000)
    : undefined;
  statsTimer?.unref();
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      if (statsTimer) clearInterval(statsTimer);
      server.log.info(`${signal} received, shutting down`);
      void server.stop(`server shutting down (${signal})`).then(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // An administrator's shutdown command (XEP-0133) stops the server from inside: exit once it has.
    for (const host of server.hosts.values()) host.events.hook('server-shutdown-requested', ({ reason }) => { void server.stop(reason).then(() => resolve(0)); }, 10);
  });
}
