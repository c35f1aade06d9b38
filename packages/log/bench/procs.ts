/**
 * Child processes of the benchmark: the server under test and the load
 * generator, each on its own event loop. Every child is tracked so that it
 * is stopped on any exit path, failures and Ctrl-C included.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LoadResult, LoadSpec } from './load.js';

const PACKAGE_DIR = fileURLToPath(new URL('../', import.meta.url));
const live = new Set<ChildProcess>();
let stopped = false;

/** True once killAllChildren ran: no new child is started after that. */
export function childrenStopped(): boolean {
  return stopped;
}

/** Runs a TypeScript file of this folder as `node --import tsx FILE ARGS` (one process, no wrapper). */
function spawnTs(file: string, args: readonly string[]): ChildProcess {
  if (stopped) throw new Error('the benchmark is stopping');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL(file, import.meta.url)), ...args],
    { cwd: PACKAGE_DIR, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  );
  live.add(child);
  child.once('exit', () => {
    live.delete(child);
  });
  return child;
}

/**
 * SIGKILLs every child still running and refuses to start new ones
 * (synchronous: usable from an 'exit' handler).
 */
export function killAllChildren(): void {
  stopped = true;
  for (const child of live) child.kill('SIGKILL');
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
}

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  /** Peak resident set size so far (VmHWM), in bytes. */
  peakRss(): number;
  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `server.ts MODE ARG` and resolves once it printed its URL. */
export async function startServer(args: readonly string[]): Promise<ServerProcess> {
  const child = spawnTs('./server.ts', args);
  let err = '';
  let partial = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    err = (err + s).slice(-4000);
    // Anything the server says while running is worth seeing at once, line by line.
    const lines = (partial + s).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) process.stderr.write(`  [server] ${line}\n`);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not start within 30 s: ${err.trim()}`));
    }, 30_000);
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /^url (\S+)$/m.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${signal ?? code}) before listening: ${err.trim()}`));
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('the server has no pid');
  return {
    url,
    pid,
    peakRss: () => statusField(pid, 'VmHWM'),
    stop: async (graceMs = 20_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.kill('SIGTERM');
      await exited(child);
      clearTimeout(kill);
    },
  };
}

/** A field of /proc/PID/status given in kB, in bytes. */
function statusField(pid: number, field: string): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
  if (m?.[1] === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * Runs the load generator with `spec`; calls `onMeasuring` when the warm-up
 * is over and the counted run starts.
 */
export async function runLoad(spec: LoadSpec, onMeasuring?: () => void): Promise<LoadResult> {
  const child = spawnTs('./load.ts', [JSON.stringify(spec)]);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    const before = out;
    out += s;
    if (!before.includes('measuring\n') && out.includes('measuring\n')) onMeasuring?.();
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (err += s));
  const limitMs = (spec.warmupS + spec.durationS + 60) * 1000;
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const code = await new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else
      child.once('exit', (c) => {
        resolve(c);
      });
  });
  clearTimeout(timer);
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (code !== 0 || line === undefined) {
    throw new Error(`the load generator failed (exit ${code}): ${err.trim().slice(0, 2000)}`);
  }
  return JSON.parse(line) as LoadResult;
}
