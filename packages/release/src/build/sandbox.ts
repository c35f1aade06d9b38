// Over 500 lines: the bubblewrap runner (mounts, limits, process group, output caps) and its availability probe belong together; the pure argument plan is in sandbox-plan.ts.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReleaseError } from '../errors.js';
import {
  buildEnvironment,
  bubblewrapArgs,
  bubblewrapProbeArgs,
  checkCommands,
  checkExtraEnv,
  checkOutputPath,
  etcFiles,
  formatSourceDateEpoch,
  SANDBOX_PATHS,
  sandboxExtraPath,
  TailBuffer,
  withUmask,
  type BuildMounts,
  type HostLayout,
  type RootEntry,
} from './sandbox-plan.js';

/**
 * The build sandbox adapter: it finds `bwrap`, copies the source, spawns the
 * recipe's commands and collects the declared outputs. What the commands see
 * (paths, environment, bwrap arguments) is decided in `sandbox-plan.ts`.
 */

/** What `detectSandbox` found: a working bubblewrap, or why there is none. */
export type SandboxInfo =
  { kind: 'bubblewrap'; version: string; path: string } | { kind: 'none'; reason: string };

export interface DetectSandboxOptions {
  /** Use this `bwrap` binary instead of searching `searchPath`. */
  bwrapPath?: string;
  /** A PATH-style list of directories to search; defaults to the process's PATH. */
  searchPath?: string;
  /** How long the probe may take; default 10 s. */
  timeoutMs?: number;
}

const DEFAULT_PROBE_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_CAPTURED_BYTES = 64 * 1024;
const ROOT_ENTRY_NAMES = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'] as const;

/**
 * Finds `bwrap` and proves it can build a sandbox here by running `true` in
 * one set up exactly like a build's. Never throws: a missing or unusable
 * bubblewrap comes back as `{ kind: 'none', reason }`.
 */
export async function detectSandbox(options: DetectSandboxOptions = {}): Promise<SandboxInfo> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const bwrap = options.bwrapPath ?? (await findOnPath('bwrap', options.searchPath));
  if (bwrap === undefined) return { kind: 'none', reason: 'bwrap was not found on PATH' };
  try {
    await fs.access(bwrap, fsConstants.X_OK);
  } catch {
    return { kind: 'none', reason: `${bwrap} is not an executable file` };
  }
  const versionRun = await runQuiet(bwrap, ['--version'], timeoutMs);
  const version = /^bubblewrap\s+(\S+)/m.exec(versionRun.output)?.[1];
  if (versionRun.exitCode !== 0 || version === undefined) {
    return {
      kind: 'none',
      reason: `${bwrap} --version failed: ${versionRun.output.trim() || `exit ${versionRun.exitCode}`}`,
    };
  }
  const layout = await hostLayout();
  const probe = await runQuiet(bwrap, bubblewrapProbeArgs(layout), timeoutMs);
  if (probe.exitCode !== 0) {
    const detail = probe.output.trim() || `exit ${probe.exitCode}`;
    const hint = /namespace|permission|operation not permitted/i.test(detail)
      ? ' (user namespaces are probably unavailable here, e.g. in an unprivileged container or with kernel.unprivileged_userns_clone=0)'
      : '';
    return {
      kind: 'none',
      reason: `bubblewrap ${version} at ${bwrap} cannot create a sandbox: ${detail}${hint}`,
    };
  }
  return { kind: 'bubblewrap', version, path: bwrap };
}

/**
 * SIGKILL to the whole process group of a child spawned with `detached:
 * true`, so a command's own children die with it; a group that is already
 * gone is not an error.
 */
export function killProcessGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}

/** One chunk of a command's output, passed to `onOutput` as it arrives. */
export interface BuildOutputChunk {
  step: number;
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

export interface BuildRequest {
  /** The source tree; never written to. */
  sourceDir: string;
  /** Where the outputs land on the host: created if missing, must be empty. */
  outputDir: string;
  /** Declared outputs, relative to the output directory. Only these are collected. */
  outputs: readonly string[];
  /** Each command is an argv; no shell unless the command itself is `sh -c …`. */
  commands: readonly (readonly string[])[];
  /** The source commit's time, exported as `SOURCE_DATE_EPOCH`. */
  sourceDateEpoch: bigint | number;
  /** Limit per command; on expiry its whole process tree is killed. */
  timeoutMs: number;
  /** Extra variables (chosen by the caller, e.g. from an allow-list); fixed ones cannot be overridden. */
  env?: Readonly<Record<string, string>>;
  onOutput?: (chunk: BuildOutputChunk) => void;
  /** From `detectSandbox`, or `{ kind: 'none', reason }` to run without isolation. */
  sandbox: SandboxInfo;
  /** How much of each command's combined output is kept for errors; default 64 KiB. */
  maxCapturedBytes?: number;
  /** Where scratch directories are created; default the OS temp directory. */
  scratchParent?: string;
  /**
   * Aborting kills the running command's whole process group at once (as a
   * timeout does) and runs no further command: `SANDBOX_CANCELLED`.
   */
  signal?: AbortSignal;
}

export interface BuildStep {
  argv: string[];
  exitCode: number;
  durationMs: number;
}

export interface BuildOutput {
  path: string;
  sha256: string;
  size: number;
}

export interface BuildResult {
  /** True only when every command ran inside bubblewrap. */
  isolated: boolean;
  sandbox: { kind: 'bubblewrap'; version: string } | { kind: 'none'; reason: string };
  /** The environment every command saw (paths as inside the sandbox when isolated). */
  environment: Record<string, string>;
  steps: BuildStep[];
  outputs: BuildOutput[];
}

/**
 * Runs a recipe's commands one after another and returns the digests of the
 * declared outputs. With bubblewrap each command runs in the sandbox
 * described in the README; without it the same commands run directly in a
 * scratch copy of the source with the same environment (host paths for HOME,
 * TMPDIR and OUT_DIR), and the result says `isolated: false`.
 *
 * Throws `ReleaseError`: SANDBOX_INVALID_REQUEST, SANDBOX_UNAVAILABLE (the
 * given bwrap vanished), SANDBOX_IO, SANDBOX_SPAWN_FAILED,
 * SANDBOX_COMMAND_FAILED, SANDBOX_TIMEOUT, SANDBOX_CANCELLED,
 * SANDBOX_OUTPUT_MISSING, SANDBOX_OUTPUT_UNSAFE.
 */
export async function runBuild(request: BuildRequest): Promise<BuildResult> {
  checkCommands(request.commands);
  const outputs = request.outputs.map(checkOutputPath);
  checkExtraEnv(request.env ?? {});
  formatSourceDateEpoch(request.sourceDateEpoch);
  if (!Number.isSafeInteger(request.timeoutMs) || request.timeoutMs <= 0) {
    throw new ReleaseError('SANDBOX_INVALID_REQUEST', 'timeoutMs must be a positive integer');
  }
  const sourceDir = path.resolve(request.sourceDir);
  const outputDir = path.resolve(request.outputDir);
  await checkSourceDir(sourceDir);
  await prepareOutputDir(outputDir);

  const scratch = await io('create a scratch directory', () =>
    fs.mkdtemp(path.join(request.scratchParent ?? os.tmpdir(), 'build-')),
  );
  try {
    const work = path.join(scratch, 'work');
    await copySource(sourceDir, work, BigInt(formatSourceDateEpoch(request.sourceDateEpoch)));
    const layout = await hostLayout();
    const sandbox = request.sandbox;
    let environment: Record<string, string>;
    let spawnOf: (argv: readonly string[]) => { file: string; args: string[]; cwd: string };
    if (sandbox.kind === 'bubblewrap') {
      try {
        await fs.access(sandbox.path, fsConstants.X_OK);
      } catch (cause) {
        throw new ReleaseError('SANDBOX_UNAVAILABLE', `${sandbox.path} is not executable`, {
          cause,
        });
      }
      const mounts = await writeEtc(scratch, { source: sourceDir, work, out: outputDir });
      environment = buildEnvironment({
        sourceDateEpoch: request.sourceDateEpoch,
        home: SANDBOX_PATHS.home,
        tmp: SANDBOX_PATHS.tmp,
        outDir: SANDBOX_PATHS.out,
        extraPath: sandboxExtraPath(layout),
        ...(request.env === undefined ? {} : { extra: request.env }),
      });
      const env = environment;
      spawnOf = (argv) => ({
        file: sandbox.path,
        args: bubblewrapArgs(layout, mounts, env, argv),
        cwd: scratch,
      });
    } else {
      const home = path.join(scratch, 'home');
      const tmp = path.join(scratch, 'tmp');
      await io('create HOME and TMPDIR', async () => {
        await fs.mkdir(home, { mode: 0o700 });
        await fs.mkdir(tmp, { mode: 0o700 });
      });
      const nodeDir = path.dirname(await fs.realpath(process.execPath));
      environment = buildEnvironment({
        sourceDateEpoch: request.sourceDateEpoch,
        home,
        tmp,
        outDir: outputDir,
        extraPath: nodeDir === '/usr/bin' || nodeDir === '/bin' ? [] : [nodeDir],
        ...(request.env === undefined ? {} : { extra: request.env }),
      });
      spawnOf = (argv) => {
        const [file, ...args] = withUmask(argv);
        return { file: file ?? '/bin/sh', args, cwd: work };
      };
    }

    const steps: BuildStep[] = [];
    for (const [index, argv] of request.commands.entries()) {
      if (request.signal?.aborted === true) throw cancelled(argv);
      const { file, args, cwd } = spawnOf(argv);
      const step = await runStep({
        index,
        argv,
        file,
        args,
        cwd,
        env: sandbox.kind === 'bubblewrap' ? {} : environment,
        timeoutMs: request.timeoutMs,
        maxCapturedBytes: request.maxCapturedBytes ?? DEFAULT_MAX_CAPTURED_BYTES,
        ...(request.onOutput === undefined ? {} : { onOutput: request.onOutput }),
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      });
      steps.push(step);
    }

    const collected: BuildOutput[] = [];
    for (const output of outputs) collected.push(await digestOutput(outputDir, output));
    return {
      isolated: sandbox.kind === 'bubblewrap',
      sandbox:
        sandbox.kind === 'bubblewrap'
          ? { kind: 'bubblewrap', version: sandbox.version }
          : { kind: 'none', reason: sandbox.reason },
      environment,
      steps,
      outputs: collected,
    };
  } finally {
    await removeTree(scratch);
  }
}

// --- spawning ---------------------------------------------------------------

interface StepInput {
  index: number;
  argv: readonly string[];
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  maxCapturedBytes: number;
  onOutput?: (chunk: BuildOutputChunk) => void;
  signal?: AbortSignal;
}

function cancelled(argv: readonly string[]): ReleaseError {
  return new ReleaseError('SANDBOX_CANCELLED', 'the build was cancelled', {
    evidence: { argv: [...argv] },
  });
}

/**
 * Runs one command in its own process group and waits for it. On timeout or
 * when `signal` aborts, the whole group gets SIGKILL (bwrap's pid namespace
 * then takes every process of the build with it). Any stragglers of the
 * group are killed afterwards too.
 */
function runStep(input: StepInput): Promise<BuildStep> {
  const started = performance.now();
  const tail = new TailBuffer(input.maxCapturedBytes);
  const argv = [...input.argv];
  return new Promise<BuildStep>((resolve, reject) => {
    const child = spawn(input.file, input.args, {
      cwd: input.cwd,
      env: input.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let timedOut = false;
    let aborted = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killProcessGroup(child.pid);
    }, input.timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      killProcessGroup(child.pid);
    };
    input.signal?.addEventListener('abort', onAbort, { once: true });
    const forward = (stream: 'stdout' | 'stderr') => (data: Buffer) => {
      tail.push(data);
      input.onOutput?.({ step: input.index, stream, data });
    };
    child.stdout.on('data', forward('stdout'));
    child.stderr.on('data', forward('stderr'));
    child.on('error', (cause) => {
      clearTimeout(timer);
      input.signal?.removeEventListener('abort', onAbort);
      reject(
        new ReleaseError('SANDBOX_SPAWN_FAILED', `cannot start ${input.file}: ${cause.message}`, {
          cause,
          evidence: { argv },
        }),
      );
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      input.signal?.removeEventListener('abort', onAbort);
      killProcessGroup(child.pid);
      const durationMs = Math.round(performance.now() - started);
      const output = tail.text();
      if (aborted) {
        reject(cancelled(argv));
        return;
      }
      if (timedOut) {
        reject(
          new ReleaseError(
            'SANDBOX_TIMEOUT',
            `${describe(argv)} did not finish within ${input.timeoutMs} ms`,
            { evidence: { argv, timeoutMs: input.timeoutMs, output } },
          ),
        );
        return;
      }
      const exitCode = code ?? 128 + signalNumber(signal);
      if (exitCode !== 0) {
        reject(
          new ReleaseError(
            'SANDBOX_COMMAND_FAILED',
            `${describe(argv)} exited with ${signal === null ? `code ${exitCode}` : `signal ${signal}`}`,
            { evidence: { argv, exitCode, signal, output } },
          ),
        );
        return;
      }
      resolve({ argv, exitCode, durationMs });
    });
  });
}

function describe(argv: readonly string[]): string {
  const shown = JSON.stringify(argv);
  return shown.length > 300 ? `${shown.slice(0, 300)}…` : shown;
}

function signalNumber(signal: NodeJS.Signals | null): number {
  if (signal === null) return 0;
  return os.constants.signals[signal];
}

/** Runs a short helper process, capturing stdout and stderr together. */
function runQuiet(
  file: string,
  args: string[],
  timeoutMs: number,
): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve) => {
    const tail = new TailBuffer(8 * 1024);
    const child = spawn(file, args, {
      env: {},
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    child.stdout.on('data', (d: Buffer) => {
      tail.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      tail.push(d);
    });
    child.on('error', (err) => {
      resolve({ exitCode: -1, output: err.message });
    });
    child.on('close', (code, signal) => {
      const output = tail.text();
      resolve({
        exitCode: code ?? -1,
        output: signal === null ? output : `${output}\nkilled by ${signal}`,
      });
    });
  });
}

// --- host file system -------------------------------------------------------

async function io<T>(what: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (cause) {
    if (cause instanceof ReleaseError) throw cause;
    throw new ReleaseError('SANDBOX_IO', `cannot ${what}: ${String(cause)}`, { cause });
  }
}

async function findOnPath(name: string, searchPath?: string): Promise<string | undefined> {
  const dirs = (searchPath ?? process.env['PATH'] ?? '/usr/bin:/bin').split(':');
  for (const dir of dirs) {
    if (!path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    try {
      await fs.access(candidate, fsConstants.X_OK);
      const stat = await fs.stat(candidate);
      if (stat.isFile()) return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return undefined;
}

/** The host's root symlinks or directories and where Node.js lives. */
async function hostLayout(): Promise<HostLayout> {
  const rootEntries: RootEntry[] = [];
  for (const name of ROOT_ENTRY_NAMES) {
    try {
      const stat = await fs.lstat(`/${name}`);
      if (stat.isSymbolicLink()) {
        rootEntries.push({ name, kind: 'symlink', target: await fs.readlink(`/${name}`) });
      } else if (stat.isDirectory()) {
        rootEntries.push({ name, kind: 'dir' });
      }
    } catch {
      // Absent on this host.
    }
  }
  const nodeBinary = await fs.realpath(process.execPath);
  if (nodeBinary.startsWith('/usr/')) {
    const binDir = path.dirname(nodeBinary);
    // Under /usr (mounted anyway) but maybe not on the fixed PATH, e.g. /usr/local/bin.
    if (binDir === '/usr/bin') return { rootEntries };
    return { rootEntries, node: { prefix: '/usr', binDir: path.relative('/usr', binDir) } };
  }
  const binDir = path.dirname(nodeBinary);
  const prefix = path.dirname(binDir);
  return { rootEntries, node: { prefix, binDir: path.relative(prefix, binDir) } };
}

async function checkSourceDir(sourceDir: string): Promise<void> {
  let stat;
  try {
    stat = await fs.stat(sourceDir);
  } catch (cause) {
    throw new ReleaseError('SANDBOX_INVALID_REQUEST', `source ${sourceDir} does not exist`, {
      cause,
    });
  }
  if (!stat.isDirectory()) {
    throw new ReleaseError('SANDBOX_INVALID_REQUEST', `source ${sourceDir} is not a directory`);
  }
}

async function prepareOutputDir(outputDir: string): Promise<void> {
  await io('create the output directory', () => fs.mkdir(outputDir, { recursive: true }));
  const entries = await io('read the output directory', () => fs.readdir(outputDir));
  if (entries.length > 0) {
    throw new ReleaseError(
      'SANDBOX_INVALID_REQUEST',
      `output directory ${outputDir} is not empty`,
      { evidence: { entries: entries.slice(0, 20) } },
    );
  }
}

/**
 * Copies the source into the scratch work directory: symlinks stay symlinks
 * (resolved later inside the sandbox, where the host is not visible), and
 * every mtime is set to SOURCE_DATE_EPOCH so a build that records file times
 * does not record when the checkout happened.
 */
async function copySource(sourceDir: string, work: string, epoch: bigint): Promise<void> {
  await io('copy the source', async () => {
    await fs.cp(sourceDir, work, {
      recursive: true,
      verbatimSymlinks: true,
      errorOnExist: true,
      force: false,
    });
    const time = Number(epoch);
    const clamp = async (dir: string): Promise<void> => {
      for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await clamp(full);
        await fs.lutimes(full, time, time);
      }
    };
    await clamp(work);
    await fs.utimes(work, time, time);
  });
}

async function writeEtc(
  scratch: string,
  dirs: { source: string; work: string; out: string },
): Promise<BuildMounts> {
  const etc = path.join(scratch, 'etc');
  const files = etcFiles();
  return io('write the sandbox /etc', async () => {
    await fs.mkdir(etc);
    const mounts: BuildMounts = {
      ...dirs,
      passwd: path.join(etc, 'passwd'),
      group: path.join(etc, 'group'),
      hosts: path.join(etc, 'hosts'),
    };
    await fs.writeFile(mounts.passwd, files.passwd, { mode: 0o644 });
    await fs.writeFile(mounts.group, files.group, { mode: 0o644 });
    await fs.writeFile(mounts.hosts, files.hosts, { mode: 0o644 });
    return mounts;
  });
}

/**
 * Digests one declared output. Every component of the path must be a real
 * directory (no symlinks) and the output itself a regular file, opened with
 * O_NOFOLLOW so it cannot be swapped for a link between the check and the read.
 */
async function digestOutput(outputDir: string, relative: string): Promise<BuildOutput> {
  const segments = relative.split('/');
  let current = outputDir;
  for (const [i, segment] of segments.entries()) {
    current = path.join(current, segment);
    let stat;
    try {
      stat = await fs.lstat(current);
    } catch (cause) {
      throw new ReleaseError(
        'SANDBOX_OUTPUT_MISSING',
        `declared output ${relative} was not produced`,
        { cause, evidence: { path: relative } },
      );
    }
    const last = i === segments.length - 1;
    if (stat.isSymbolicLink() || (last ? !stat.isFile() : !stat.isDirectory())) {
      throw new ReleaseError(
        'SANDBOX_OUTPUT_UNSAFE',
        `declared output ${relative} is not a regular file inside the output directory`,
        { evidence: { path: relative, at: segments.slice(0, i + 1).join('/') } },
      );
    }
  }
  let handle;
  try {
    handle = await fs.open(current, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  } catch (cause) {
    throw new ReleaseError('SANDBOX_OUTPUT_UNSAFE', `cannot open declared output ${relative}`, {
      cause,
      evidence: { path: relative },
    });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw new ReleaseError('SANDBOX_OUTPUT_UNSAFE', `declared output ${relative} changed`, {
        evidence: { path: relative },
      });
    }
    const hash = createHash('sha256');
    const buffer = Buffer.alloc(1024 * 1024);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { path: relative, sha256: hash.digest('hex'), size };
  } finally {
    await handle.close();
  }
}

/** Removes a scratch tree, making read-only directories writable if a build left any. */
async function removeTree(dir: string): Promise<void> {
  try {
    await fs.rm(dir, { recursive: true, force: true });
    return;
  } catch {
    // Fall through: a build may have left directories without write permission.
  }
  const unlock = async (d: string): Promise<void> => {
    await fs.chmod(d, 0o700).catch(() => undefined);
    const entries = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isDirectory()) await unlock(path.join(d, entry.name));
    }
  };
  await unlock(dir);
  await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
}
