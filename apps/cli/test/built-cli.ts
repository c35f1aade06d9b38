/**
 * Tests that run `glasshouse` as a child process need the built CLI. `npm
 * test` builds before vitest, so this is usually a no-op; when a test runs
 * on its own after a source change, it rebuilds first (only when needed, so
 * parallel test files do not run tsc at once for nothing).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(REPO_ROOT, 'apps/cli/bin/glasshouse.js');

/** Every workspace's sources: the CLI's build depends on all of them. */
function sourceDirs(): string[] {
  const dirs = [join(REPO_ROOT, 'apps/cli/src')];
  for (const e of readdirSync(join(REPO_ROOT, 'packages'), { withFileTypes: true })) {
    const src = join(REPO_ROOT, 'packages', e.name, 'src');
    if (e.isDirectory() && existsSync(src)) dirs.push(src);
  }
  return dirs;
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts') || e.name.endsWith('.test.ts')) continue;
    newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

export function ensureCliBuilt(): void {
  const built = join(REPO_ROOT, 'apps/cli/dist/main.js');
  const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
  if (sourceDirs().every((dir) => newestSource(dir) <= builtAt)) return;
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
  if (!existsSync(built)) throw new Error('apps/cli/dist/main.js is missing after the build');
}

export interface SpawnedCli<T> {
  readonly child: ChildProcess;
  /** What `ready` found in stdout. */
  readonly value: T;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stdout: () => string;
  readonly stderr: () => string;
}

/**
 * Starts the built `glasshouse …args` and resolves once `ready` finds what
 * it waits for in the stdout so far; rejects when the process exits first
 * or `timeoutMs` passes (and kills it).
 */
export async function spawnBuiltCliUntil<T>(
  args: readonly string[],
  ready: (stdout: string) => T | undefined,
  options: {
    timeoutMs?: number;
    env?: NodeJS.ProcessEnv;
    /** Run `start …` as `npm start -- …`, in a process group of its own. */
    npmStart?: boolean;
  } = {},
): Promise<SpawnedCli<T>> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const [file, argv] =
    options.npmStart === true
      ? ['npm', ['start', '--', ...args.slice(1)]]
      : [process.execPath, [CLI, ...args]];
  const child = spawn(file, argv, {
    cwd: REPO_ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.npmStart === true,
  });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
    });
  });
  const value = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} was not ready in ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const found = ready(out);
      if (found !== undefined) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(' ')} exited (${code ?? signal}) before it was ready: ${err}`));
    });
  });
  return { child, value, exited, stdout: () => out, stderr: () => err };
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly vkey: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/**
 * Starts `glasshouse …args` (a `serve` command) and resolves once it printed
 * its `url` and `vkey` lines.
 */
export async function startServing(
  args: readonly string[],
  timeoutMs = 15_000,
): Promise<ServeProcess> {
  const started = await spawnBuiltCliUntil(
    args,
    (out) => {
      const url = /^url (\S+)$/m.exec(out)?.[1];
      const vkey = /^vkey (\S+)$/m.exec(out)?.[1];
      return url === undefined || vkey === undefined ? undefined : { url, vkey };
    },
    { timeoutMs },
  );
  return { child: started.child, ...started.value, exited: started.exited, stderr: started.stderr };
}

/** Runs the built CLI to completion; returns its stdout (throws on a non-zero exit). */
export function runBuiltCli(args: readonly string[]): string {
  return execFileSync(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
}

/** The portal's build (apps/portal/dist), rebuilt when its sources are newer (`npm test` builds it first). */
export function ensurePortalBuilt(): void {
  const portal = join(REPO_ROOT, 'apps/portal');
  const built = join(portal, 'dist/index.html');
  const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
  let newest = statSync(join(portal, 'index.html')).mtimeMs;
  for (const e of readdirSync(join(portal, 'src'), { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  if (newest <= builtAt) return;
  execFileSync('npm', ['run', 'build', '-w', '@glasshouse/portal'], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
  });
}

/** Every address option of `start`, each on a port the system picks: what a test of `start` passes. */
export function startListenOnFreePorts(): string[] {
  return [
    '--listen',
    '--witness-listen',
    '--assembly-listen',
    '--repo-listen',
    '--residency-log-listen',
    '--router-listen',
    '--site-listen',
    '--second-site-listen',
    '--access-log-listen',
    '--access-index-listen',
    '--access-index-log-listen',
    '--gateway-listen',
    '--key-release-listen',
    '--portal-listen',
  ].flatMap((flag) => [flag, '127.0.0.1:0']);
}
