/**
 * Child processes of the benchmark: each server under test runs on its own
 * event loop, so the load generator and the monitor do not share a core's
 * time slices with it inside one process. Every child is tracked and killed
 * on any exit path of the parent.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const live = new Set<ChildProcess>();

/** A child that reported `ready` with its details over IPC. */
export interface Child<T> {
  readonly ready: T;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `node [NODE_FLAGS] --import tsx FILE ARGS` (`file` a `file:` URL, e.g.
 * `new URL('server.ts', import.meta.url)`) from the package that holds it,
 * pipes its stderr through (progress lines), and waits up to `timeoutMs`
 * for its first IPC message, which must be `{ ready: T }` (or `{ error: string }`).
 * `nodeFlags` go before the script, e.g. `['--cpu-prof', '--cpu-prof-dir=…']`
 * to profile the server under test (Node refuses `--cpu-prof` in NODE_OPTIONS).
 */
export async function startChild<T>(
  file: URL,
  args: readonly string[],
  timeoutMs: number,
  nodeFlags: readonly string[] = [],
): Promise<Child<T>> {
  const path = fileURLToPath(file);
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', path, ...args], {
    cwd: dirname(dirname(path)),
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  live.add(child);
  const gone = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
  });
  const stop = async (graceMs = 5_000): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(timer);
    }
  };
  try {
    const ready = await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${path} was not ready within ${timeoutMs} ms`));
      }, timeoutMs);
      child.once('message', (msg: { ready?: T; error?: string }) => {
        clearTimeout(timer);
        if (msg.ready !== undefined) resolve(msg.ready);
        else reject(new Error(`${path}: ${msg.error ?? 'no ready message'}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${path} exited (${signal ?? code}) before it was ready`));
      });
    });
    return { ready, pid: child.pid ?? -1, stop };
  } catch (err) {
    await stop(1_000);
    throw err;
  }
}

/** Synchronous, for 'exit' handlers: SIGKILLs every child still running. */
export function killChildren(): void {
  for (const child of live) child.kill('SIGKILL');
}

/** In a child: sends the ready message, or the error and exits non-zero. */
export function reportReady(ready: unknown): void {
  process.send?.({ ready });
}

export function reportFailure(err: unknown): never {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.send?.({ error: message });
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** In a child: stops when the parent goes away or asks it to. */
export function onStop(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

/**
 * Runs `body` with a fresh temp dir (`prefix` + random) that is removed,
 * with every child, on any exit path: return, throw, SIGINT or SIGTERM.
 */
export async function withBenchDir(
  prefix: string,
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  process.once('exit', killChildren);
  const interrupted = (): void => {
    killChildren();
    void rm(dir, { recursive: true, force: true }).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await body(dir);
  } finally {
    killChildren();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A loopback TCP port that was free a moment ago, for a child that must
 * listen on a port known before it starts (its URL goes into its config).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => {
        if (a === null || typeof a === 'string') reject(new Error('no port'));
        else resolve(a.port);
      });
    });
  });
}
