import { ReleaseError } from '../errors.js';

/**
 * The pure half of the build sandbox: the fixed paths, the environment and the
 * exact `bwrap` argument list. Nothing here touches the file system or spawns
 * a process, so what a build sees can be read (and tested) line by line.
 */

/** Where things live inside the sandbox. Fixed, so no host path reaches a build. */
export const SANDBOX_PATHS = {
  /** The source as checked out, read-only. */
  source: '/build/src',
  /** A writable copy of the source; every command starts here. */
  work: '/build/work',
  /** The only directory whose contents leave the sandbox. */
  out: '/build/out',
  /** A fresh, empty HOME (tmpfs). */
  home: '/build/home',
  /** A fresh, empty TMPDIR (tmpfs). */
  tmp: '/tmp',
  /** Where a Node.js installed outside `/usr` is mounted, read-only. */
  node: '/opt/node',
} as const;

/** The user and group a sandboxed build runs as, whoever runs the sandbox. */
export const SANDBOX_UID = 1000;
export const SANDBOX_GID = 1000;
export const SANDBOX_USER = 'build';
export const SANDBOX_HOSTNAME = 'build';

/** Variables every build gets; an extra environment may not override them. */
export const RESERVED_ENV = [
  'HOME',
  'LANG',
  'LC_ALL',
  'LOGNAME',
  'OUT_DIR',
  'PATH',
  'SOURCE_DATE_EPOCH',
  'TMPDIR',
  'TZ',
  'USER',
] as const;

const MAX_EPOCH = 253_402_300_799n; // 9999-12-31T23:59:59Z
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_ENV_VALUE = 32 * 1024;

function invalid(message: string, evidence?: Record<string, unknown>): ReleaseError {
  return new ReleaseError(
    'SANDBOX_INVALID_REQUEST',
    message,
    evidence === undefined ? {} : { evidence },
  );
}

/** `SOURCE_DATE_EPOCH` as the decimal string the reproducible-builds spec asks for. */
export function formatSourceDateEpoch(epoch: bigint | number): string {
  let value: bigint;
  if (typeof epoch === 'number') {
    if (!Number.isSafeInteger(epoch)) {
      throw invalid(`SOURCE_DATE_EPOCH must be an integer, got ${epoch}`);
    }
    value = BigInt(epoch);
  } else {
    value = epoch;
  }
  if (value < 0n || value > MAX_EPOCH) {
    throw invalid(`SOURCE_DATE_EPOCH out of range: ${value.toString()}`);
  }
  return value.toString();
}

/**
 * A declared output: a relative, normalised path with no `.`/`..` segments,
 * no empty segments, no backslashes and no NUL. Returns it unchanged.
 */
export function checkOutputPath(path: string): string {
  const segments = path.split('/');
  const bad =
    path.length === 0 ||
    path.length > 4096 ||
    path.includes('\0') ||
    path.includes('\\') ||
    path.startsWith('/') ||
    segments.some((s) => s === '' || s === '.' || s === '..');
  if (bad) {
    throw invalid(`declared output ${JSON.stringify(path)} is not a plain relative path`, {
      path,
    });
  }
  return path;
}

/** Checks the commands: at least one, each a non-empty argv of NUL-free strings. */
export function checkCommands(commands: readonly (readonly string[])[]): void {
  if (commands.length === 0) throw invalid('a build needs at least one command');
  for (const argv of commands) {
    const first = argv[0];
    if (first === undefined || first === '') {
      throw invalid('a command needs a program name', { argv });
    }
    if (argv.some((a) => a.includes('\0'))) {
      throw invalid('a command argument contains NUL', { argv });
    }
  }
}

/** Checks an extra environment: valid names, no reserved name, bounded values. */
export function checkExtraEnv(env: Readonly<Record<string, string>>): void {
  const reserved: readonly string[] = RESERVED_ENV;
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name))
      throw invalid(`bad environment variable name ${JSON.stringify(name)}`);
    if (reserved.includes(name)) {
      throw invalid(`environment variable ${name} is fixed by the sandbox`, { name });
    }
    if (value.includes('\0') || value.length > MAX_ENV_VALUE) {
      throw invalid(`environment variable ${name} has a bad value`, { name });
    }
  }
}

export interface EnvironmentInput {
  sourceDateEpoch: bigint | number;
  home: string;
  tmp: string;
  outDir: string;
  /** Directories searched for programs, in order, before `/usr/bin:/bin`. */
  extraPath?: readonly string[];
  extra?: Readonly<Record<string, string>>;
}

/**
 * The complete environment of a build command, with keys sorted. Nothing is
 * inherited: a build sees exactly these variables.
 */
export function buildEnvironment(input: EnvironmentInput): Record<string, string> {
  const extra = input.extra ?? {};
  checkExtraEnv(extra);
  const path = [...(input.extraPath ?? []), '/usr/bin', '/bin'];
  const env: Record<string, string> = {
    ...extra,
    HOME: input.home,
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    LOGNAME: SANDBOX_USER,
    OUT_DIR: input.outDir,
    PATH: [...new Set(path)].join(':'),
    SOURCE_DATE_EPOCH: formatSourceDateEpoch(input.sourceDateEpoch),
    TMPDIR: input.tmp,
    TZ: 'UTC',
    USER: SANDBOX_USER,
  };
  return Object.fromEntries(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Runs `argv` under umask 022 (bubblewrap before 0.10 has no umask option,
 * and a spawned process inherits ours). `sh` only sets the umask and `exec`s
 * the program with its arguments untouched: no word splitting, no globbing.
 */
export function withUmask(argv: readonly string[]): string[] {
  return ['/bin/sh', '-c', 'umask 022 && exec "$@"', 'sh', ...argv];
}

/** A top-level entry of the host's root that tools may need (`/bin`, `/lib64`…). */
export type RootEntry =
  { name: string; kind: 'symlink'; target: string } | { name: string; kind: 'dir' };

/** What the sandbox needs to know about the host, gathered by the adapter. */
export interface HostLayout {
  /** `/bin`, `/sbin`, `/lib`, `/lib32`, `/lib64`, `/libx32` as they exist on the host. */
  rootEntries: readonly RootEntry[];
  /**
   * A Node.js installation outside `/usr`: its prefix (mounted read-only at
   * `/opt/node`) and the directory of the `node` binary relative to it.
   */
  node?: { prefix: string; binDir: string };
}

/** Host files bound read-only into `/etc` when they exist (see README). */
export const ETC_BINDS = ['/etc/ld.so.cache', '/etc/alternatives'] as const;

/** The generated `/etc` files: a user for `getpwuid`, its group, and localhost. */
export function etcFiles(): { passwd: string; group: string; hosts: string } {
  return {
    passwd: `${SANDBOX_USER}:x:${SANDBOX_UID}:${SANDBOX_GID}:${SANDBOX_USER}:${SANDBOX_PATHS.home}:/bin/sh\n`,
    group: `${SANDBOX_USER}:x:${SANDBOX_GID}:\n`,
    hosts: '127.0.0.1\tlocalhost\n::1\tlocalhost\n',
  };
}

/** The PATH entries a build needs for the layout's Node.js, inside the sandbox. */
export function sandboxExtraPath(layout: HostLayout): string[] {
  if (layout.node === undefined) return [];
  const bin = layout.node.binDir === '' ? '' : `/${layout.node.binDir}`;
  return [`${SANDBOX_PATHS.node}${bin}`];
}

/**
 * The namespaces, system directories and mounts shared by every sandbox run,
 * up to (not including) the build's own directories and environment.
 */
export function bubblewrapBaseArgs(layout: HostLayout): string[] {
  const args = [
    // Every namespace bwrap knows (user, ipc, pid, net, uts, cgroup-if-possible);
    // the user namespace is required, so a fixed uid/gid can be set.
    '--unshare-all',
    '--unshare-user',
    '--uid',
    String(SANDBOX_UID),
    '--gid',
    String(SANDBOX_GID),
    '--hostname',
    SANDBOX_HOSTNAME,
    '--die-with-parent',
    '--new-session',
    '--ro-bind',
    '/usr',
    '/usr',
  ];
  for (const entry of layout.rootEntries) {
    if (entry.kind === 'symlink') args.push('--symlink', entry.target, `/${entry.name}`);
    else args.push('--ro-bind', `/${entry.name}`, `/${entry.name}`);
  }
  for (const path of ETC_BINDS) args.push('--ro-bind-try', path, path);
  if (layout.node !== undefined) args.push('--ro-bind', layout.node.prefix, SANDBOX_PATHS.node);
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', SANDBOX_PATHS.tmp);
  return args;
}

/** Host paths for one build run. */
export interface BuildMounts {
  /** The source, bound read-only at `/build/src`. */
  source: string;
  /** The writable copy of the source, bound at `/build/work`. */
  work: string;
  /** The output directory, bound at `/build/out`. */
  out: string;
  /** The generated `/etc/passwd`, `/etc/group` and `/etc/hosts`. */
  passwd: string;
  group: string;
  hosts: string;
}

/**
 * The complete `bwrap` argument list for one command, ending with `--` and
 * the command (wrapped to set the umask). The root of the sandbox is made
 * read-only last, so the only writable places are the work copy, the output
 * directory, HOME and TMPDIR.
 */
export function bubblewrapArgs(
  layout: HostLayout,
  mounts: BuildMounts,
  env: Readonly<Record<string, string>>,
  argv: readonly string[],
): string[] {
  const args = bubblewrapBaseArgs(layout);
  args.push(
    '--ro-bind',
    mounts.passwd,
    '/etc/passwd',
    '--ro-bind',
    mounts.group,
    '/etc/group',
    '--ro-bind',
    mounts.hosts,
    '/etc/hosts',
    '--ro-bind',
    mounts.source,
    SANDBOX_PATHS.source,
    '--bind',
    mounts.work,
    SANDBOX_PATHS.work,
    '--bind',
    mounts.out,
    SANDBOX_PATHS.out,
    '--tmpfs',
    SANDBOX_PATHS.home,
    '--remount-ro',
    '/',
    '--chdir',
    SANDBOX_PATHS.work,
    '--clearenv',
  );
  for (const [name, value] of Object.entries(env)) args.push('--setenv', name, value);
  args.push('--', ...withUmask(argv));
  return args;
}

/** The bwrap arguments of the start-up probe: the same base, running `true`. */
export function bubblewrapProbeArgs(layout: HostLayout): string[] {
  return [
    ...bubblewrapBaseArgs(layout),
    '--remount-ro',
    '/',
    '--clearenv',
    '--',
    ...withUmask(['true']),
  ];
}

/** Keeps the last `limit` bytes written to it (a build log's tail). */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit) {
      const first = this.chunks[0];
      if (first === undefined) break;
      const excess = this.size - this.limit;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
        this.dropped += first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
        this.dropped += excess;
      }
    }
  }

  /** The kept tail, prefixed with a marker when bytes were dropped. */
  text(): string {
    const tail = Buffer.concat(this.chunks).toString('utf8');
    return this.dropped > 0 ? `[${this.dropped} earlier bytes dropped]\n${tail}` : tail;
  }
}
