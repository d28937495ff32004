// The container setup in docker/, checked without a Docker engine (none runs where these tests
// run, so the image itself is never built here):
// - static: docker/Dockerfile, Dockerfile.dockerignore, compose.yaml, clove.cfg.lua and
//   i2pd/*.conf are parsed and checked against each other and against what Clove's own config
//   loader reads from docker/clove.cfg.lua (paths, ports, addresses, user, volumes, signals);
// - runtime: the runtime stage's filesystem is laid out in a temp dir from the Dockerfile's own
//   COPY/WORKDIR/VOLUME/ENV/USER/CMD/HEALTHCHECK lines, and the image's commands run there as an
//   unprivileged user (`nobody` when the tests run as root, standing in for `USER clove`).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmod, chown, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join, posix, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { loadConfig, type Config } from '../../src/config/config.js';
import { REPO_ROOT } from '../helpers/child-server.js';
import { Wire } from '../helpers/wire.js';

const run = promisify(execFile);
const DOCKER = join(REPO_ROOT, 'docker');

// ---- docker/Dockerfile ----

interface Instruction { op: string; args: string }

/** Dockerfile instructions: continuation lines joined, comment lines dropped (as BuildKit does). */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw) || !raw.trim()) continue;
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (!full) continue;
    const m = /^(\S+)\s*(.*)$/s.exec(full)!;
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim() });
  }
  return out;
}

/** The instructions of each stage (FROM … up to the next FROM), with the stage's name. */
function stagesOf(instructions: Instruction[]): Array<{ name: string | undefined; body: Instruction[] }> {
  const stages: Array<{ name: string | undefined; body: Instruction[] }> = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') stages.push({ name: /\bAS\s+(\S+)$/i.exec(ins.args)?.[1], body: [] });
    else stages.at(-1)?.body.push(ins);
  }
  return stages;
}

const words = (s: string): string[] => s.split(/\s+/).filter(Boolean);
const argsOf = (body: Instruction[], op: string): string[] => body.filter((i) => i.op === op).map((i) => i.args);
const lastOf = (body: Instruction[], op: string): string | undefined => argsOf(body, op).at(-1);

interface Copy { from: string | undefined; sources: string[]; dest: string }

/** A COPY line: its --from, sources and destination (shell form; exec form when it is JSON). */
function parseCopy(args: string): Copy {
  const tokens = args.startsWith('[') ? (JSON.parse(args) as string[]) : words(args);
  const flags = tokens.filter((t) => t.startsWith('--'));
  const rest = tokens.filter((t) => !t.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: rest.slice(0, -1), dest: rest.at(-1)! };
}

/** Where a COPY lands: an absolute path, relative ones against the stage's WORKDIR. */
const inImage = (workdir: string, dest: string): string => posix.resolve(workdir, dest);

/** The exec-form array of CMD or of a HEALTHCHECK's CMD. */
function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['));
  const parsed = JSON.parse(json) as unknown;
  if (!Array.isArray(parsed)) throw new Error(`not an exec-form array: ${args}`);
  return parsed as string[];
}

/** The shell commands of a RUN line, split at && and ;, as word lists. */
const commandsOf = (run: string): string[][] => run.split(/&&|;/).map(words).filter((c) => c.length > 0);

/** The value of `--name V`, `--name=V` or `-x V` in a command's words. */
function flagValue(cmd: string[], long: string, short?: string): string | undefined {
  for (let i = 0; i < cmd.length; i++) {
    const w = cmd[i]!;
    if (w.startsWith(`${long}=`)) return w.slice(long.length + 1);
    if (w === long || (short !== undefined && w === short)) return cmd[i + 1];
  }
  return undefined;
}

/** Paths a .dockerignore leaves out of the build context (moby's patternmatcher rules). */
function dockerignore(text: string): (path: string) => boolean {
  const glob = (p: string): RegExp => {
    let re = '';
    for (let i = 0; i < p.length; i++) {
      const c = p[i]!;
      if (c === '*' && p[i + 1] === '*') {
        re += p[i + 2] === '/' ? '(?:.*/)?' : '.*';
        i += p[i + 2] === '/' ? 2 : 1;
      } else if (c === '*') re += '[^/]*';
      else if (c === '?') re += '[^/]';
      else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    return new RegExp(`^${re}$`);
  };
  const rules = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => {
    const negate = l.startsWith('!');
    const pattern = posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+|\/+$/g, '');
    return { negate, re: glob(pattern) };
  });
  return (path) => {
    const parts = path.split('/');
    const selfAndParents = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const r of rules) if (selfAndParents.some((p) => r.re.test(p))) excluded = !r.negate;
    return excluded;
  };
}

/** Every file below `dir` (relative to REPO_ROOT), or `dir` itself when it is a file. */
async function filesUnder(rel: string): Promise<string[]> {
  if (!statSync(join(REPO_ROOT, rel)).isDirectory()) return [rel];
  return (await readdir(join(REPO_ROOT, rel), { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => relative(REPO_ROOT, join(e.parentPath, e.name)).split('\\').join('/'));
}

// ---- compose.yaml and i2pd's INI files ----

/** A YAML file as JSON, parsed by python3-yaml (no YAML parser among the npm dependencies). */
async function readYaml(path: string): Promise<unknown> {
  const { stdout } = await run('/usr/bin/python3', ['-c', 'import yaml,json,sys; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', path]);
  return JSON.parse(stdout) as unknown;
}

/** A compose service, as far as these tests read it. */
interface ComposeService {
  networks: Record<string, { ipv4_address: string }>;
  ports?: (string | { target: number; host_ip?: string })[];
  network_mode?: string;
  volumes: string[];
}

/** compose.yaml, as far as these tests read it (the assertions say what must be there). */
interface Compose {
  services: Record<string, ComposeService> & {
    clove: ComposeService & { build: { context: string; dockerfile: string }; stop_signal?: string };
    i2pd: ComposeService & { environment: Record<string, unknown> };
  };
  networks: Record<string, { ipam: { config: { subnet: string }[] } }>;
  volumes: Record<string, unknown>;
}

/** An i2pd INI file: section name ('' before the first) → key → value. */
function parseIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>([['', new Map()]]);
  let current = sections.get('')!;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    const section = /^\[(.+)\]$/.exec(line);
    if (section) sections.set(section[1]!, (current = new Map()));
    else if (line.includes('=')) current.set(line.slice(0, line.indexOf('=')).trim(), line.slice(line.indexOf('=') + 1).trim());
  }
  return sections;
}

const ipv4 = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);

/** A compose `ports` entry's host address ('0.0.0.0' when it names none) and container port. */
function published(entry: string | { target: number; host_ip?: string }): { hostIp: string; target: number } {
  if (typeof entry !== 'string') return { hostIp: entry.host_ip ?? '0.0.0.0', target: Number(entry.target) };
  const parts = entry.split(':');
  return { hostIp: parts.length === 3 ? parts[0]! : '0.0.0.0', target: Number(parts.at(-1)!.split('/')[0]) };
}

/** A compose short-syntax volume: its source and target; `named` unless the source is a path. */
function mount(entry: string): { source: string; target: string; named: boolean } {
  const [source, target] = entry.split(':') as [string, string];
  return { source, target, named: !/^[./~]/.test(source) };
}

// ---- the files, read once ----

let dockerfile: Instruction[];
let runtime: Instruction[];
let build: { name: string | undefined; body: Instruction[] };
let cfg: Config;
let compose: Compose;
let HOST: string;
let cmd: string[];
let configCopy: Copy;
let volumes: string[];

beforeAll(async () => {
  dockerfile = parseDockerfile(await readFile(join(DOCKER, 'Dockerfile'), 'utf8'));
  const stages = stagesOf(dockerfile);
  runtime = stages.at(-1)!.body;
  build = stages[0]!;
  cfg = await loadConfig(join(DOCKER, 'clove.cfg.lua'));
  compose = (await readYaml(join(DOCKER, 'compose.yaml'))) as Compose;
  HOST = cfg.virtualHosts()[0]!;
  cmd = execForm(lastOf(runtime, 'CMD')!);
  configCopy = argsOf(runtime, 'COPY').map(parseCopy).find((c) => c.sources.includes('docker/clove.cfg.lua'))!;
  volumes = argsOf(runtime, 'VOLUME').flatMap((a) => (a.startsWith('[') ? (JSON.parse(a) as string[]) : words(a)));
});

const cmdConfigPath = (): string => cmd[cmd.indexOf('--config') + 1]!;
const byNumber = (a: number, b: number): number => a - b;
const clovePorts = (): number[] => [...cfg.get<number[]>('c2s_ports'), ...cfg.get<number[]>('s2s_ports')];

describe('docker/Dockerfile', () => {
  it('every COPY source exists in the repository and is not left out by Dockerfile.dockerignore', async () => {
    // BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile that compose names.
    const ignoreFile = join(REPO_ROOT, compose.services.clove.build.dockerfile + '.dockerignore');
    expect(existsSync(ignoreFile), `${ignoreFile} (what BuildKit reads for this Dockerfile)`).toBe(true);
    const ignored = dockerignore(await readFile(ignoreFile, 'utf8'));
    const copies = dockerfile.filter((i) => i.op === 'COPY').map((i) => parseCopy(i.args)).filter((c) => c.from === undefined);
    expect(copies.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const source of copies.flatMap((c) => c.sources)) {
      if (!existsSync(join(REPO_ROOT, source))) {
        problems.push(`${source} does not exist`);
        continue;
      }
      for (const f of await filesUnder(source)) if (ignored(f)) problems.push(`${f} is excluded by ${basename(ignoreFile)}`);
    }
    expect(problems).toEqual([]);
    // The matcher itself: what must stay out of the context does.
    for (const p of ['node_modules/pino/package.json', 'dist/main.js', '.git/HEAD']) expect(ignored(p), p).toBe(true);
  });

  it("the build stage gets what tsc needs, and COPY --from takes the build's outDir", async () => {
    const tsconfig = JSON.parse(await readFile(join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as { include: string[]; compilerOptions: { outDir: string } };
    const workdir = lastOf(build.body, 'WORKDIR')!;
    const copied = argsOf(build.body, 'COPY').map(parseCopy).flatMap((c) => c.sources.map((s) => inImage(workdir, c.dest.endsWith('/') || c.sources.length > 1 ? posix.join(c.dest, basename(s)) : c.dest)));
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', ...tsconfig.include.map((p) => p.split('/')[0]!)]) {
      expect(copied, `the build stage must COPY ${needed}`).toContain(inImage(workdir, needed));
    }
    expect(argsOf(build.body, 'RUN').some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    const fromBuild = argsOf(runtime, 'COPY').map(parseCopy).find((c) => c.from === build.name);
    expect(fromBuild?.sources).toEqual([inImage(workdir, tsconfig.compilerOptions.outDir)]);
  });

  it('the runtime stage installs only production dependencies, and dist/ imports nothing else', async () => {
    expect(argsOf(runtime, 'RUN').some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
    // npm ci --omit=dev installs optional dependencies too (better-sqlite3, built in that RUN line).
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: object; optionalDependencies?: object };
    const deps = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies ?? {})];
    const imported = new Set<string>();
    for (const f of (await filesUnder('dist')).filter((p) => p.endsWith('.js'))) {
      const js = await readFile(join(REPO_ROOT, f), 'utf8');
      // Static imports/re-exports (statement starts only), import('x'), require('x'), require.resolve('x').
      for (const m of js.matchAll(/^(?:(?:import|export)\b[^;'"]*?\bfrom\s*|import\s*)['"]([^'"./][^'"]*)['"]|\b(?:import|require|resolve)\(\s*['"]([^'"./][^'"]*)['"]/gm)) {
        const spec = (m[1] ?? m[2])!;
        if (isBuiltin(spec)) continue;
        imported.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
    expect(imported.size).toBeGreaterThan(0);
    expect([...imported].filter((p) => !deps.includes(p)), 'packages dist/ imports that npm ci --omit=dev leaves out').toEqual([]);
  });

  it('runs as a non-root user created with a fixed uid (and gid), which owns the VOLUME directories', () => {
    const user = lastOf(runtime, 'USER')!;
    expect(user).toBeDefined();
    const name = user.split(':')[0]!;
    expect(['root', '0']).not.toContain(name);
    const commands = argsOf(runtime, 'RUN').flatMap(commandsOf);
    const useradd = commands.find((c) => c[0] === 'useradd' && c.at(-1) === name);
    expect(useradd, `a RUN line with useradd … ${name}`).toBeDefined();
    const uid = flagValue(useradd!, '--uid', '-u');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    const gid = flagValue(useradd!, '--gid', '-g')!;
    const groupadd = commands.find((c) => c[0] === 'groupadd' && c.at(-1) === gid);
    expect(/^\d+$/.test(gid) || /^\d+$/.test(flagValue(groupadd ?? [], '--gid', '-g') ?? ''), `group ${gid} has a fixed gid`).toBe(true);
    // Fresh named volumes copy the ownership of the image's directory they mount on.
    const made = commands.filter((c) => c[0] === 'mkdir').flatMap((c) => c.slice(1));
    const chowned = commands.filter((c) => c[0] === 'chown' && c[1]!.split(':')[0] === name).flatMap((c) => c.slice(2));
    for (const v of volumes) {
      expect(made, `mkdir ${v}`).toContain(v);
      expect(chowned, `chown ${name} ${v}`).toContain(v);
    }
  });

  it('VOLUME, EXPOSE and CMD agree with docker/clove.cfg.lua', () => {
    expect(volumes).toEqual([cfg.get<string>('data_path'), cfg.get<string>('certificates')]);
    expect(argsOf(runtime, 'EXPOSE').flatMap(words).map((p) => Number(p.split('/')[0])).sort(byNumber)).toEqual(clovePorts().sort(byNumber));
    expect(cmd.slice(0, 3)).toEqual(['node', 'bin/clove.js', 'start']);
    expect(posix.dirname(inImage(lastOf(runtime, 'WORKDIR')!, cmd[1]!)), 'bin/ is copied where CMD runs it').toBe(inImage(lastOf(runtime, 'WORKDIR')!, argsOf(runtime, 'COPY').map(parseCopy).find((c) => c.sources.includes('bin'))!.dest));
    expect(cmdConfigPath()).toBe(inImage(lastOf(runtime, 'WORKDIR')!, configCopy.dest));
    // PID 1 must stay in the foreground, and as the unprivileged user.
    expect(cmd).not.toContain('-D');
    expect(cfg.get<boolean>('daemonize')).toBe(false);
    expect(cfg.get<boolean>('run_as_root')).toBe(false);
    // COPY and compose's bind mount keep the file's mode: the container's user must be able to read it.
    expect(statSync(join(DOCKER, 'clove.cfg.lua')).mode & 0o004, 'docker/clove.cfg.lua must be readable by others').toBe(0o004);
  });

  it('HEALTHCHECK connects to a c2s port Clove listens on inside the container; STOPSIGNAL is SIGTERM', () => {
    const health = execForm(lastOf(runtime, 'HEALTHCHECK')!);
    expect(health.slice(0, 2)).toEqual(['node', '-e']);
    const target = /connect\((\d+),\s*'([\d.]+)'\)/.exec(health[2]!);
    expect(target, health[2]).not.toBeNull();
    expect(cfg.get<number[]>('c2s_ports')).toContain(Number(target![1]));
    expect(cfg.get<string[]>('interfaces').some((i) => i === '0.0.0.0' || i === target![2])).toBe(true);
    expect(lastOf(runtime, 'STOPSIGNAL')).toBe('SIGTERM');
  });
});

describe('docker/compose.yaml and docker/i2pd', () => {
  const net = (service: string): { ipv4_address: string } => {
    const networks = compose.services[service].networks as Record<string, { ipv4_address: string }>;
    return Object.values(networks)[0]!;
  };

  it('builds clove from docker/Dockerfile with the repository root as context', () => {
    const b = compose.services.clove.build as { context: string; dockerfile: string };
    expect(resolve(DOCKER, b.context)).toBe(REPO_ROOT);
    expect(resolve(DOCKER, b.context, b.dockerfile)).toBe(join(DOCKER, 'Dockerfile'));
  });

  it("fixed addresses: i2pd's is darknet_socks5_host, both inside the network's subnet; clove listens on its own", () => {
    const networkName = Object.keys(compose.services.clove.networks as object)[0]!;
    expect(Object.keys(compose.services.i2pd.networks as object)).toEqual([networkName]);
    const [base, bits] = (compose.networks[networkName].ipam.config[0].subnet as string).split('/') as [string, string];
    const size = 2 ** (32 - Number(bits));
    const i2pd = net('i2pd').ipv4_address;
    const clove = net('clove').ipv4_address;
    expect(cfg.get<string>('darknet_socks5_host')).toBe(i2pd);
    expect(cfg.get<boolean>('darknet_only')).toBe(true);
    expect(i2pd).not.toBe(clove);
    for (const a of [i2pd, clove]) {
      const offset = ipv4(a) - ipv4(base);
      expect(offset > 1 && offset < size - 1, `${a} in ${base}/${bits}, not the network, gateway (.1) or broadcast address`).toBe(true);
    }
    expect(cfg.get<string[]>('interfaces').some((i) => i === '0.0.0.0' || i === clove)).toBe(true);
  });

  it("i2pd/tunnels.conf: server tunnels to clove's address on its c2s and s2s ports, one keys file", async () => {
    const tunnels = [...parseIni(await readFile(join(DOCKER, 'i2pd', 'tunnels.conf'), 'utf8'))].filter(([name]) => name);
    expect(tunnels.length).toBeGreaterThan(0);
    for (const [name, t] of tunnels) {
      expect(t.get('type'), name).toBe('server');
      expect(t.get('host'), name).toBe(net('clove').ipv4_address);
    }
    expect(tunnels.map(([, t]) => Number(t.get('port'))).sort(byNumber)).toEqual([5222, 5269]);
    expect(tunnels.map(([, t]) => Number(t.get('port'))).sort(byNumber)).toEqual(clovePorts().sort(byNumber));
    expect(new Set(tunnels.map(([, t]) => t.get('keys'))).size).toBe(1);
  });

  it("i2pd/i2pd.conf: SOCKS proxy on i2pd's fixed address at darknet_socks5_port; nothing on 0.0.0.0", async () => {
    const ini = parseIni(await readFile(join(DOCKER, 'i2pd', 'i2pd.conf'), 'utf8'));
    const socks = ini.get('socksproxy')!;
    expect(socks.get('enabled')).toBe('true');
    expect(socks.get('address')).toBe(net('i2pd').ipv4_address);
    expect(Number(socks.get('port'))).toBe(cfg.get<number>('darknet_socks5_port'));
    const open = [...ini].filter(([, s]) => s.get('enabled') !== 'false' && (s.get('address') === '0.0.0.0' || s.get('address') === '::'));
    expect(open.map(([n]) => n)).toEqual([]);
    // The image's DEFAULT_ARGS would turn listeners on from the command line, beating i2pd.conf.
    expect(String(compose.services.i2pd.environment.DEFAULT_ARGS)).not.toMatch(/0\.0\.0\.0|proxy|sam|http/i);
  });

  it('publishes only on 127.0.0.1 of the host, only c2s; no service uses the host network', () => {
    for (const [name, s] of Object.entries(compose.services as Record<string, { ports?: string[]; network_mode?: string }>)) {
      expect(s.network_mode, name).toBeUndefined();
      for (const p of (s.ports ?? []).map(published)) {
        expect(p.hostIp, `${name}: ${JSON.stringify(p)}`).toBe('127.0.0.1');
        expect(cfg.get<number[]>('c2s_ports'), name).toContain(p.target);
      }
    }
  });

  it("mounts volumes on the Dockerfile's VOLUME paths and the config where CMD reads it; stop signal matches", () => {
    const mounts = (compose.services.clove.volumes as string[]).map(mount);
    expect(mounts.filter((m) => m.named).map((m) => m.target)).toEqual(volumes);
    for (const m of [...mounts, ...(compose.services.i2pd.volumes as string[]).map(mount)]) {
      if (m.named) expect(Object.keys(compose.volumes as object), `volume ${m.source} is declared`).toContain(m.source);
      else expect(existsSync(resolve(DOCKER, m.source)), `${m.source} exists next to compose.yaml`).toBe(true);
    }
    const configMount = mounts.find((m) => m.target === cmdConfigPath());
    expect(configMount && resolve(DOCKER, configMount.source)).toBe(join(REPO_ROOT, configCopy.sources[0]!));
    expect(compose.services.clove.stop_signal).toBe(lastOf(runtime, 'STOPSIGNAL'));
  });
});

// ---- the runtime, emulated ----

const IS_ROOT = process.getuid?.() === 0;
const temps: string[] = [];
let server: ChildProcess | undefined;
afterAll(async () => {
  if (server?.pid !== undefined && server.exitCode === null && server.signalCode === null) process.kill(server.pid, 'SIGKILL');
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

/** Stands in for `USER clove`: `nobody` when the tests run as root, else the current user. */
async function containerUser(): Promise<{ uid: number; gid: number; spawn: { uid?: number; gid?: number } } | undefined> {
  if (!IS_ROOT) return { uid: process.getuid!(), gid: process.getgid!(), spawn: {} };
  const f = (await readFile('/etc/passwd', 'utf8')).split('\n').map((l) => l.split(':')).find((e) => e[0] === 'nobody');
  return f && { uid: Number(f[2]), gid: Number(f[3]), spawn: { uid: Number(f[2]), gid: Number(f[3]) } };
}

/** mkdir -p below `root`, each new directory 0755 (root-owned, as the image's are). */
async function mkdirImage(root: string, path: string): Promise<string> {
  let p = root;
  for (const part of path.split('/').filter(Boolean)) {
    p = join(p, part);
    if (!existsSync(p)) await mkdir(p);
    await chmod(p, 0o755);
  }
  return p;
}

/** Polls `get` until it returns a value; fails as soon as `failure()` says why, or after `ms`. */
async function until<T>(get: () => T | undefined, failure: () => string | undefined, ms: number): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await delay(50)) {
    const value = get();
    if (value !== undefined) return value;
    const why = failure();
    if (why !== undefined) throw new Error(why);
  }
  throw new Error(`nothing within ${ms} ms`);
}

/** Every path below `dir` except under `skip`, for "nothing else was written". */
async function tree(dir: string, skip: string[]): Promise<string[]> {
  const all = await readdir(dir, { recursive: true });
  return all.filter((p) => !skip.some((s) => p === s || p.startsWith(s + '/'))).sort();
}

describe("the image's runtime, emulated with real processes", () => {
  it('check, start (CMD), HEALTHCHECK, register + login, then SIGTERM (docker stop) exits 0', async (ctx) => {
    const user = await containerUser();
    if (!user) return ctx.skip('the tests run as root and /etc/passwd has no "nobody" user');
    const root = await mkdtemp(join(tmpdir(), 'clove-image-'));
    temps.push(root);
    await chmod(root, 0o755);
    const workdir = lastOf(runtime, 'WORKDIR')!;
    const buildWorkdir = lastOf(build.body, 'WORKDIR')!;

    // The runtime stage's COPY lines; COPY --from=build takes the repo's dist/ (npm run build).
    for (const c of argsOf(runtime, 'COPY').map(parseCopy)) {
      const dest = inImage(workdir, c.dest);
      for (const s of c.sources) {
        const from = c.from === undefined ? join(REPO_ROOT, s) : join(REPO_ROOT, posix.relative(buildWorkdir, s));
        const into = c.dest.endsWith('/') || c.sources.length > 1 ? posix.join(dest, basename(s)) : dest;
        await mkdirImage(root, posix.dirname(into));
        await cp(from, join(root, into), { recursive: true });
      }
    }
    // `RUN npm ci --omit=dev`: the repo's node_modules (dev packages too; the static test above
    // checks that dist/ needs none of them).
    await symlink(join(REPO_ROOT, 'node_modules'), join(root, workdir, 'node_modules'));
    // The volumes: the RUN line's mkdir + chown to the user + chmod.
    const mode = Number.parseInt(/chmod\s+(0?[0-7]{3})\b/.exec(argsOf(runtime, 'RUN').join('\n'))?.[1] ?? '750', 8);
    const volumeDirs = await Promise.all(volumes.map((v) => mkdirImage(root, v)));
    for (const v of volumeDirs) {
      if (IS_ROOT) await chown(v, user.uid, user.gid);
      await chmod(v, mode);
    }

    // The config: only what the container provides differently from this machine.
    const configPath = join(root, cmdConfigPath());
    const original = await readFile(configPath, 'utf8');
    const rewrites: Array<[RegExp, string]> = [
      [/^interfaces = .*$/m, 'interfaces = { "127.0.0.1" }'], // a container's 0.0.0.0 is its own; here only loopback
      [/^c2s_ports = .*$/m, 'c2s_ports = { 0 }'], // other tests run at the same time
      [/^s2s_ports = .*$/m, 's2s_ports = { 0 }'],
      [/^data_path = .*$/m, `data_path = ${JSON.stringify(volumeDirs[0])}`], // the volumes, under the temp root
      [/^certificates = .*$/m, `certificates = ${JSON.stringify(volumeDirs[1])}`],
    ];
    let text = original;
    for (const [re, line] of rewrites) {
      expect(text, String(re)).toMatch(re);
      text = text.replace(re, line);
    }
    // Nothing else changed: same lines, and each that differs is one of the rewrites.
    expect(text.split('\n')).toHaveLength(original.split('\n').length);
    const changed = text.split('\n').filter((l, i) => l !== original.split('\n')[i]);
    expect(changed.filter((l) => !rewrites.some(([, line]) => line === l))).toEqual([]);
    await writeFile(configPath, text);
    const rewritten = await loadConfig(configPath);
    expect(rewritten.get('darknet_socks5_host')).toBe(cfg.get('darknet_socks5_host'));
    expect(rewritten.virtualHosts()).toEqual([HOST]);

    // The image's environment (ENV lines), HOME = the user's home, cwd = WORKDIR, uid/gid.
    const env: Record<string, string> = { ...process.env } as Record<string, string>;
    for (const e of argsOf(runtime, 'ENV')) for (const [k, v] of words(e).map((w) => w.split('='))) env[k!] = v!;
    env.HOME = volumeDirs[0]!;
    const cwd = join(root, workdir);
    const opts = { cwd, env, ...user.spawn };
    const node = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      run(process.execPath, args, opts).then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => e);
    // The user can read what the image holds (and the repo's node_modules behind the symlink).
    const readable = await node(['-e', 'for (const p of process.argv.slice(1)) require("fs").accessSync(p, 4)', ...['bin/clove.js', 'dist/cli/index.js', 'node_modules/pino/package.json', configPath]]);
    expect(readable.code, `the container's user cannot read the image's files: ${readable.stderr}`).toBe(0);
    const before = await tree(root, volumes.map((v) => v.slice(1)));

    const check = await node(['bin/clove.js', 'check', '--config', configPath]);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toContain(`OK (1 host(s): ${HOST})`);

    // CMD, with the rewritten config's path.
    const argv = cmd.slice(1).map((a) => (a === cmdConfigPath() ? configPath : a));
    const child = spawn(process.execPath, argv, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    server = child;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let stderr = '';
    child.stdout!.resume();
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    let spawnError = '';
    child.once('error', (err) => (spawnError = err.message));
    const port = Number(await until(
      () => /c2s listening on 127\.0\.0\.1:(\d+)/.exec(stderr)?.[1],
      () => (spawnError || child.exitCode !== null || child.signalCode !== null ? `${spawnError || 'clove exited'} (${child.exitCode ?? child.signalCode}) before listening; stderr:\n${stderr}` : undefined),
      30_000,
    ));

    // HEALTHCHECK, pointed at the real port.
    const health = execForm(lastOf(runtime, 'HEALTHCHECK')!);
    const c2s = String(cfg.get<number[]>('c2s_ports')[0]);
    const healthScript = health[2]!.replaceAll(c2s, String(port));
    expect(healthScript).not.toBe(health[2]);
    expect((await node(['-e', healthScript])).code, 'HEALTHCHECK while running').toBe(0);

    // `docker compose exec clove node bin/clove.js … register` while it runs, then a login.
    const reg = await node(['bin/clove.js', '--config', configPath, 'register', 'admin', HOST, 'admin-pw']);
    expect(reg.code, reg.stderr).toBe(0);
    const c = await Wire.login({ port, domain: HOST, username: 'admin', password: 'admin-pw', resource: 'docker' });
    expect(c.jid).toBe(`admin@${HOST}/docker`);
    await c.close();

    // The self-signed pair went to the certs volume; everything written belongs to the user.
    expect((await readdir(volumeDirs[1]!)).sort()).toEqual([`${HOST}.crt`, `${HOST}.key`]);
    for (const v of volumeDirs) {
      for (const p of await readdir(v, { recursive: true })) expect((await stat(join(v, p))).uid, p).toBe(user.uid);
    }

    // docker stop: STOPSIGNAL to PID 1.
    process.kill(child.pid!, lastOf(runtime, 'STOPSIGNAL') as NodeJS.Signals);
    expect(await exited, stderr).toBe(0);
    expect(stderr).toContain('SIGTERM received, shutting down');
    expect((await node(['-e', healthScript])).code, 'HEALTHCHECK once stopped').toBe(1);
    // Nothing was written outside the volumes.
    expect(await tree(root, volumes.map((v) => v.slice(1)))).toEqual(before);
  }, 90_000);
});
