import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { RuleSource, ScanLimits, ScanResult, YaraEngine } from './engine.js';
import { BundleError, type BundleErrorCode } from './errors.js';
import type { EngineChoice } from './yara-engine.js';

/**
 * Compiling a large rule set and scanning every sample is seconds to
 * minutes of CPU inside the engine. Run on a service's event loop it stops
 * every other service of the process from answering; run in a worker thread
 * it cannot be stopped (a thread inside native code ignores `terminate()`,
 * and the process waits for it on exit). So it runs in a child process,
 * which SIGKILL stops at once.
 *
 * With 10,000 rules each YARA-X scan costs about half a millisecond
 * whatever the input's size (the engine resets and evaluates every rule's
 * condition), so testing 10,000 samples is seconds of one core. Where more
 * cores are free, more engine processes scan at once: the first compiles and
 * serializes the set, the others load those bytes (a fraction of a compile)
 * and each takes the next batch of inputs as soon as it is idle.
 */

export interface EngineProcessRequest {
  readonly engine: EngineChoice;
  readonly sources: readonly RuleSource[];
  readonly limits?: Partial<ScanLimits>;
}

/** What the child reports about the engine it runs. */
export type EngineDescription = Pick<
  YaraEngine,
  'name' | 'version' | 'binding' | 'package' | 'enforcesTimeout'
>;

export interface EngineProcessOptions {
  /** Aborting kills every engine process; pending calls reject with `RULES_CANCELLED`. */
  readonly signal?: AbortSignal;
  /** Scan counts while `scan` runs (about twice a second). */
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Engine processes that scan at once (default 1; see `scanProcessesFor`).
   * The extra ones start with the first, so their start-up overlaps the
   * compile, and load its serialized set; an engine that cannot serialize
   * (the WebAssembly build) scans in one process.
   */
  readonly processes?: number;
}

/** Requests to a child, in order: one `compile` or `load`, then any number of `scan`. */
export type ChildRequest =
  | {
      readonly type: 'compile';
      readonly request: EngineProcessRequest;
      readonly serialize: boolean;
    }
  | {
      readonly type: 'load';
      readonly engine: EngineDescription['binding'];
      readonly serialized: Uint8Array;
      readonly limits: Partial<ScanLimits> | undefined;
    }
  | { readonly type: 'scan'; readonly inputs: readonly Uint8Array[] };

/** Answers from a child. */
export type ChildAnswer =
  | {
      readonly type: 'compiled';
      readonly engine: EngineDescription;
      readonly notice: string | undefined;
      readonly warnings: readonly string[];
      readonly compileMs: number;
      /** The compiled set, when asked for and the engine can serialize it. */
      readonly serialized: Uint8Array | undefined;
    }
  | { readonly type: 'loaded' }
  | { readonly type: 'progress'; readonly done: number; readonly total: number }
  | { readonly type: 'scanned'; readonly results: readonly ScanResult[] }
  | {
      readonly type: 'error';
      readonly code: BundleErrorCode | undefined;
      readonly message: string;
      readonly evidence: Record<string, unknown> | undefined;
    };

const MAX_STDERR = 64 * 1024;
/** Most processes `scanProcessesFor` proposes. */
const MAX_PROCESSES = 4;
/** Scans one extra process must have to pay for loading the set (about a fifth of a compile). */
const SCANS_PER_EXTRA_PROCESS = 2_500;
/** A batch sent to one process: at most this many inputs… */
const BATCH_INPUTS = 256;
/** …and this many bytes (one input larger than that goes alone). */
const BATCH_BYTES = 16 * 1024 * 1024;
const PROGRESS_MS = 500;

/**
 * How many engine processes pay off for `scans` inputs on this machine:
 * one per 2,500 scans, no more than the cores available, at most four.
 */
export function scanProcessesFor(scans: number): number {
  const byWork = 1 + Math.floor(scans / SCANS_PER_EXTRA_PROCESS);
  return Math.max(1, Math.min(MAX_PROCESSES, availableParallelism(), byWork));
}

type Pending = {
  readonly resolve: (answer: ChildAnswer) => void;
  readonly reject: (err: BundleError) => void;
  readonly onProgress: ((done: number) => void) | undefined;
};

/** A rule set compiled in a child process (and loaded in its helpers), scanning inputs sent to them. */
export class EngineProcess {
  readonly engine: EngineDescription;
  /** Set when `auto` fell back to the WebAssembly build (see `selectYaraEngine`). */
  readonly notice: string | undefined;
  readonly warnings: readonly string[];
  readonly compileMs: number;
  readonly #first: Channel;
  /** The helpers, each resolving once it has loaded the set (undefined: it cannot). */
  readonly #helpers: readonly { channel: Channel; ready: Promise<boolean> }[];
  readonly #options: EngineProcessOptions;

  private constructor(
    first: Channel,
    helpers: readonly Channel[],
    compiled: Extract<ChildAnswer, { type: 'compiled' }>,
    limits: Partial<ScanLimits> | undefined,
    options: EngineProcessOptions,
  ) {
    this.#first = first;
    this.#options = options;
    this.engine = compiled.engine;
    this.notice = compiled.notice;
    this.warnings = compiled.warnings;
    this.compileMs = compiled.compileMs;
    const { serialized } = compiled;
    this.#helpers = helpers.map((channel) => {
      if (serialized === undefined) {
        channel.close();
        return { channel, ready: Promise.resolve(false) };
      }
      const ready = channel
        .ask({ type: 'load', engine: compiled.engine.binding, serialized, limits })
        .then((answer) => {
          if (answer.type !== 'loaded') throw channel.unexpected(answer);
          return true;
        });
      // A helper that fails is reported by the scan that waits for it, or by close.
      ready.catch(() => undefined);
      return { channel, ready };
    });
  }

  /** Starts the engine processes and compiles `request.sources`; compile errors reject as in `compile`. */
  static async start(
    request: EngineProcessRequest,
    options: EngineProcessOptions = {},
  ): Promise<EngineProcess> {
    const count = options.processes ?? 1;
    if (!Number.isSafeInteger(count) || count < 1 || count > 64) {
      throw new BundleError('RULES_ENGINE_BAD_LIMIT', 'processes must be an integer from 1 to 64', {
        evidence: { processes: count },
      });
    }
    const first = new Channel(options);
    const helpers = Array.from({ length: count - 1 }, () => new Channel(options));
    try {
      const answer = await first.ask({ type: 'compile', request, serialize: count > 1 });
      if (answer.type !== 'compiled') throw first.unexpected(answer);
      return new EngineProcess(first, helpers, answer, request.limits, options);
    } catch (err) {
      first.close();
      for (const helper of helpers) helper.close();
      throw err;
    }
  }

  /**
   * One result per input, in order. Inputs go out in batches to whichever
   * process is idle; a helper joins as soon as it has loaded the set. The
   * first failure of any process rejects the whole scan.
   */
  scan(inputs: readonly Uint8Array[]): Promise<readonly ScanResult[]> {
    const results: ScanResult[] = new Array<ScanResult>(inputs.length);
    if (inputs.length === 0) return Promise.resolve(results);
    let next = 0;
    let completed = 0;
    const partial = new Map<Channel, number>();
    let reported = performance.now();
    const { onProgress } = this.#options;
    const report = (force: boolean): void => {
      const now = performance.now();
      if (onProgress === undefined || (!force && now - reported < PROGRESS_MS)) return;
      reported = now;
      let done = completed;
      for (const n of partial.values()) done += n;
      onProgress(done, inputs.length);
    };
    return new Promise<readonly ScanResult[]>((resolve, reject) => {
      let failed = false;
      const fail = (err: unknown): void => {
        if (failed) return;
        failed = true;
        reject(
          err instanceof Error
            ? err
            : new BundleError('RULES_ENGINE_FAILED', 'an engine process failed', { cause: err }),
        );
      };
      const work = async (channel: Channel): Promise<void> => {
        while (!failed && next < inputs.length) {
          const start = next;
          let end = start + 1;
          let bytes = inputs[start]?.byteLength ?? 0;
          while (end < inputs.length && end - start < BATCH_INPUTS) {
            bytes += inputs[end]?.byteLength ?? 0;
            if (bytes > BATCH_BYTES) break;
            end++;
          }
          next = end;
          const batch = inputs.slice(start, end);
          const answer = await channel.ask({ type: 'scan', inputs: batch }, (done) => {
            partial.set(channel, done);
            report(false);
          });
          partial.delete(channel);
          if (answer.type !== 'scanned' || answer.results.length !== batch.length) {
            throw channel.unexpected(answer);
          }
          for (const [i, result] of answer.results.entries()) results[start + i] = result;
          completed += batch.length;
          report(completed === inputs.length);
          if (completed === inputs.length) resolve(results);
        }
      };
      work(this.#first).catch(fail);
      for (const helper of this.#helpers) {
        helper.ready.then((ok) => (ok ? work(helper.channel) : undefined)).catch(fail);
      }
    });
  }

  /** Ends every engine process (at once, whatever it is doing). */
  close(): void {
    this.#first.close();
    for (const helper of this.#helpers) helper.channel.close();
  }
}

/** The IPC channel to one child: one request at a time. */
class Channel {
  readonly #child: ChildProcess;
  readonly #options: EngineProcessOptions;
  #pending: Pending | undefined;
  #failure: BundleError | undefined;
  #stderr = '';

  constructor(options: EngineProcessOptions) {
    this.#options = options;
    this.#child = spawn(process.execPath, [...childArgs()], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.#child.stderr?.setEncoding('utf8');
    this.#child.stderr?.on('data', (chunk: string) => {
      if (this.#stderr.length < MAX_STDERR) {
        this.#stderr += chunk.slice(0, MAX_STDERR - this.#stderr.length);
      }
    });
    this.#child.on('message', (raw) => {
      this.#onAnswer(raw as ChildAnswer);
    });
    this.#child.on('error', (cause) => {
      this.#fail(
        new BundleError('RULES_ENGINE_FAILED', 'cannot run the engine process', { cause }),
      );
    });
    this.#child.on('exit', (code, signal) => {
      this.#fail(
        new BundleError('RULES_ENGINE_FAILED', 'the engine process ended', {
          evidence: { code, signal, stderr: this.#stderr },
        }),
      );
    });
    const { signal } = options;
    if (signal?.aborted === true) this.#cancel();
    signal?.addEventListener('abort', this.#cancel, { once: true });
  }

  /** Sends one request; `onProgress` gets the child's progress counts until it answers. */
  ask(request: ChildRequest, onProgress?: (done: number) => void): Promise<ChildAnswer> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#pending !== undefined) {
      return Promise.reject(new BundleError('RULES_ENGINE_FAILED', 'the engine process is busy'));
    }
    return new Promise<ChildAnswer>((resolve, reject) => {
      this.#pending = { resolve, reject, onProgress };
      this.#child.send(request, (err) => {
        if (err !== null) {
          this.#fail(
            new BundleError('RULES_ENGINE_FAILED', 'cannot reach the engine process', {
              cause: err,
            }),
          );
        }
      });
    });
  }

  unexpected(answer: ChildAnswer): BundleError {
    return new BundleError('RULES_ENGINE_FAILED', `unexpected answer ${answer.type}`);
  }

  close(): void {
    this.#options.signal?.removeEventListener('abort', this.#cancel);
    this.#fail(new BundleError('RULES_ENGINE_FAILED', 'the engine process was closed'));
  }

  readonly #cancel = (): void => {
    this.#fail(new BundleError('RULES_CANCELLED', 'the rule-set job was cancelled'));
  };

  #onAnswer(answer: ChildAnswer): void {
    if (answer.type === 'progress') {
      this.#pending?.onProgress?.(answer.done);
      return;
    }
    const pending = this.#pending;
    this.#pending = undefined;
    if (answer.type === 'error') {
      pending?.reject(
        new BundleError(answer.code ?? 'RULES_ENGINE_FAILED', answer.message, {
          evidence: { ...answer.evidence, inEngineProcess: true },
        }),
      );
      return;
    }
    pending?.resolve(answer);
  }

  /** The first failure sticks: the child is killed and every call rejects with it. */
  #fail(err: BundleError): void {
    if (this.#failure === undefined) {
      this.#failure = err;
      this.#child.kill('SIGKILL');
    }
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(this.#failure);
  }
}

/** Node arguments that run `engine-child` (see {@link childModuleArgs}). */
function childArgs(): readonly string[] {
  return childModuleArgs(import.meta.url, 'engine-child');
}

/**
 * Node arguments that run the module `name` next to the module at `here`
 * (its `import.meta.url`) in a child process: the compiled `name.js`, or,
 * when running from the sources (tests, `tsx`), `name.ts` through tsx's
 * loader.
 */
export function childModuleArgs(here: string, name: string): readonly string[] {
  const compiled = new URL(`./${name}.js`, here);
  if (!here.endsWith('.ts') && existsSync(fileURLToPath(compiled))) {
    return [fileURLToPath(compiled)];
  }
  const tsx = createRequire(here).resolve('tsx');
  return ['--import', pathToFileURL(tsx).href, fileURLToPath(new URL(`./${name}.ts`, here))];
}
