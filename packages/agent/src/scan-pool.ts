/**
 * Scanning threads: `worker_threads`, each with its own copy of the compiled
 * rule set, that read and scan the files a scan hands them. The set is
 * compiled once, in the calling thread; each worker loads it from the bytes
 * that set serialized in this same process (never from a file: see
 * `YaraEngine.load`), which costs a fraction of a compile, and with the same
 * scan limits (the per-file timeout and the match limit).
 *
 * A worker holds at most {@link JOBS_PER_WORKER} files at a time, and one
 * read buffer, so the pool's memory is bounded by the thread count times the
 * file size limit. A file a worker was holding when it stopped is reported
 * as `scan-failed`; the scan goes on with the other threads.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CompiledRules, EngineBinding, ScanLimits, YaraEngine } from '@glasshouse/bundle';
import { ScanError } from './errors.js';
import { skipped, type ScanRecord } from './scan-file.js';

/**
 * Files sent to one worker before it answers: enough to keep it busy while
 * the calling thread scans a file of its own between two rounds of messages.
 */
export const JOBS_PER_WORKER = 32;
/** Scanning threads at most (the calling thread and its workers). */
export const MAX_SCAN_THREADS = 64;

/** What a worker starts with. */
export interface PoolWorkerData {
  readonly binding: EngineBinding;
  readonly serialized: Uint8Array;
  readonly limits: ScanLimits;
}
export interface WorkerJob {
  readonly seq: number;
  readonly path: string;
  readonly maxFileSize: number;
}
export type WorkerAnswer =
  | { readonly type: 'ready' }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'result'; readonly seq: number; readonly record: ScanRecord };

/** What a pool reports to the scan using it. */
export type PoolEvent =
  | { readonly type: 'ready' }
  | { readonly type: 'stopped' }
  | { readonly type: 'result'; readonly seq: number; readonly record: ScanRecord };

export interface ScanPoolOptions {
  /** The compiled set the workers copy (it must be able to `serialize`). */
  readonly rules: CompiledRules;
  /** The engine that compiled `rules` (it must be able to `load`). */
  readonly engine: YaraEngine;
  /** The limits `rules` was compiled with: the workers' sets get the same. */
  readonly limits: ScanLimits;
  /** Worker threads, from 1 to {@link MAX_SCAN_THREADS} − 1 (the calling thread scans too). */
  readonly workers: number;
  /**
   * Start the workers this long after the pool is made, not at once: a scan
   * that ends sooner never pays for them (each copies the compiled set).
   * Default 0.
   */
  readonly startAfterMs?: number;
}

/** True when `engine` can hand a compiled set to other threads (the native binding can; the WebAssembly one cannot). */
export function canScanInThreads(engine: YaraEngine, rules: CompiledRules): boolean {
  return engine.load !== undefined && rules.serialize !== undefined;
}

/** One scanning thread per core the process may use. */
export function defaultScanThreads(): number {
  return Math.min(availableParallelism(), MAX_SCAN_THREADS);
}

/**
 * Scanning threads for cores that look idle: this thread plus one worker
 * per core the one-minute load average leaves free, at most one per core.
 * On a busy machine a worker's copy of the rules (about a second of CPU
 * with 10,000 rules) is not paid back: measured, a scan on two threads
 * there took longer than on one.
 */
export function idleCoreScanThreads(
  cores: number = defaultScanThreads(),
  load: number = loadavg()[0] ?? 0,
): number {
  const idle = Math.floor(Math.max(0, cores - load));
  return 1 + Math.max(0, Math.min(cores - 1, idle));
}

/** Throws `AGENT_SCAN_BAD_OPTION` unless `threads` is an integer from 1 to {@link MAX_SCAN_THREADS}. */
export function checkThreads(threads: number): void {
  if (!Number.isSafeInteger(threads) || threads < 1 || threads > MAX_SCAN_THREADS) {
    throw new ScanError(
      'AGENT_SCAN_BAD_OPTION',
      `threads must be an integer from 1 to ${MAX_SCAN_THREADS}`,
      { evidence: { threads } },
    );
  }
}

interface Slot {
  readonly worker: Worker;
  ready: boolean;
  stopped: boolean;
  /** Files sent and not answered yet: seq → path. */
  readonly held: Map<number, string>;
}

export class ScanPool {
  readonly workers: number;
  readonly #slots: Slot[] = [];
  #listener: ((event: PoolEvent) => void) | undefined;
  #closed = false;
  #firstFailure: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #settled: Promise<void>;

  private constructor(options: ScanPoolOptions) {
    checkThreads(options.workers + 1);
    const { rules, engine, limits } = options;
    const serialize = rules.serialize?.bind(rules);
    if (serialize === undefined || engine.load === undefined) {
      throw new ScanError(
        'AGENT_SCAN_BAD_OPTION',
        `${engine.package} cannot hand its compiled rules to other threads: scan with one thread`,
        { evidence: { engine: engine.package } },
      );
    }
    const delay = options.startAfterMs ?? 0;
    if (!Number.isSafeInteger(delay) || delay < 0) {
      throw new ScanError('AGENT_SCAN_BAD_OPTION', 'startAfterMs must be a non-negative integer', {
        evidence: { startAfterMs: delay },
      });
    }
    this.workers = options.workers;
    const spawn = (): Promise<void> => {
      const serialized = serialize();
      const data: PoolWorkerData = { binding: engine.binding, serialized, limits };
      return Promise.all(Array.from({ length: options.workers }, () => this.#spawn(data))).then(
        () => undefined,
      );
    };
    if (delay === 0) {
      this.#settled = spawn();
    } else {
      this.#settled = new Promise((resolve) => {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          if (!this.#closed) void spawn().then(resolve);
          else resolve();
        }, delay);
      });
    }
  }

  /** Starts one worker; resolves once it has loaded its set or stopped. */
  #spawn(data: PoolWorkerData): Promise<void> {
    const slot: Slot = {
      worker: spawnScanWorker(data),
      ready: false,
      stopped: false,
      held: new Map(),
    };
    this.#slots.push(slot);
    // An uncaught error in a worker ends it; 'exit' follows and reports its files.
    slot.worker.on('error', () => undefined);
    return new Promise((resolve) => {
      slot.worker.on('message', (answer: WorkerAnswer) => {
        this.#onAnswer(slot, answer);
        if (answer.type !== 'result') resolve();
      });
      slot.worker.once('exit', () => {
        this.#onStopped(slot);
        resolve();
      });
    });
  }

  /**
   * Starts `workers` workers, each loading its own copy of `rules`. Throws
   * `AGENT_SCAN_BAD_OPTION` for a bad count or an engine that cannot copy
   * its compiled set ({@link canScanInThreads}).
   */
  static start(options: ScanPoolOptions): ScanPool {
    return new ScanPool(options);
  }

  /**
   * The pool for a scan on `threads` threads: the calling thread and
   * `threads − 1` workers; undefined for one thread. Throws
   * `AGENT_SCAN_BAD_OPTION` like {@link ScanPool.start}.
   */
  static forThreads(
    threads: number,
    options: Omit<ScanPoolOptions, 'workers'>,
  ): ScanPool | undefined {
    checkThreads(threads);
    return threads === 1 ? undefined : new ScanPool({ ...options, workers: threads - 1 });
  }

  /** Resolves when every worker has loaded its set (or failed to). */
  whenSettled(): Promise<void> {
    return this.#settled;
  }

  /** Workers that have loaded their set and still run. */
  get readyThreads(): number {
    return this.#slots.filter((s) => s.ready && !s.stopped).length;
  }

  /** Why the first worker that could not load its set failed, if one did. */
  get loadFailure(): string | undefined {
    return this.#firstFailure;
  }

  /** Files sent to workers and not answered yet. */
  get held(): number {
    return this.#slots.reduce((n, s) => n + s.held.size, 0);
  }

  /** Receives the pool's events; one scan at a time (`undefined` detaches). */
  listen(listener: ((event: PoolEvent) => void) | undefined): void {
    if (listener !== undefined && this.#listener !== undefined) {
      throw new ScanError('AGENT_SCAN_BAD_OPTION', 'the scan pool is already in use by a scan');
    }
    this.#listener = listener;
  }

  /** Hands `job` to the ready worker holding the fewest files; false when every one is full. */
  trySend(job: WorkerJob): boolean {
    let best: Slot | undefined;
    for (const s of this.#slots) {
      if (!s.ready || s.stopped || s.held.size >= JOBS_PER_WORKER) continue;
      if (best === undefined || s.held.size < best.held.size) best = s;
    }
    if (best === undefined) return false;
    best.held.set(job.seq, job.path);
    best.worker.postMessage(job);
    return true;
  }

  /** Stops every worker (and cancels a start not yet due). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }

  #onAnswer(slot: Slot, answer: WorkerAnswer): void {
    switch (answer.type) {
      case 'ready':
        slot.ready = true;
        this.#listener?.({ type: 'ready' });
        return;
      case 'failed':
        // The worker exits next; 'exit' reports its files.
        this.#firstFailure ??= answer.message;
        return;
      case 'result':
        slot.held.delete(answer.seq);
        this.#listener?.({ type: 'result', seq: answer.seq, record: answer.record });
        return;
    }
  }

  #onStopped(slot: Slot): void {
    slot.stopped = true;
    for (const [seq, path] of slot.held) {
      const detail = this.#closed ? 'the scan was stopped' : 'the scanning thread stopped';
      this.#listener?.({ type: 'result', seq, record: skipped(path, 'scan-failed', detail) });
    }
    slot.held.clear();
    this.#listener?.({ type: 'stopped' });
  }
}

/**
 * From the compiled output the worker runs `scan-worker.js` next to this
 * file. From the sources (tests, `tsx`) there is only `scan-worker.ts`,
 * which plain Node cannot load: the thread then registers tsx's loader
 * before importing it.
 */
function spawnScanWorker(data: PoolWorkerData): Worker {
  const here = import.meta.url;
  const compiled = new URL('./scan-worker.js', here);
  if (!here.endsWith('.ts') && existsSync(fileURLToPath(compiled))) {
    return new Worker(compiled, { workerData: data });
  }
  const api = pathToFileURL(
    createRequire(here)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
  const source = new URL('./scan-worker.ts', here).href;
  const code = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(code, { eval: true, workerData: data });
}
