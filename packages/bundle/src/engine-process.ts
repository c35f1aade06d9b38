import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
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
  /** Aborting kills the child; pending calls reject with `RULES_CANCELLED`. */
  readonly signal?: AbortSignal;
  /** Scan counts while `scan` runs (about twice a second). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Requests to the child, in order: one `compile`, then any number of `scan`. */
export type ChildRequest =
  | { readonly type: 'compile'; readonly request: EngineProcessRequest }
  | { readonly type: 'scan'; readonly inputs: readonly Uint8Array[] };

/** Answers from the child. */
export type ChildAnswer =
  | {
      readonly type: 'compiled';
      readonly engine: EngineDescription;
      readonly notice: string | undefined;
      readonly warnings: readonly string[];
      readonly compileMs: number;
    }
  | { readonly type: 'progress'; readonly done: number; readonly total: number }
  | { readonly type: 'scanned'; readonly results: readonly ScanResult[] }
  | {
      readonly type: 'error';
      readonly code: BundleErrorCode | undefined;
      readonly message: string;
      readonly evidence: Record<string, unknown> | undefined;
    };

const MAX_STDERR = 64 * 1024;

type Pending = {
  readonly resolve: (answer: ChildAnswer) => void;
  readonly reject: (err: BundleError) => void;
};

/** A rule set compiled in a child process, scanning inputs sent to it. */
export class EngineProcess {
  readonly engine: EngineDescription;
  /** Set when `auto` fell back to the WebAssembly build (see `selectYaraEngine`). */
  readonly notice: string | undefined;
  readonly warnings: readonly string[];
  readonly compileMs: number;
  readonly #channel: Channel;

  private constructor(channel: Channel, compiled: Extract<ChildAnswer, { type: 'compiled' }>) {
    this.#channel = channel;
    this.engine = compiled.engine;
    this.notice = compiled.notice;
    this.warnings = compiled.warnings;
    this.compileMs = compiled.compileMs;
  }

  /** Starts the child and compiles `request.sources` in it; compile errors reject as in `compile`. */
  static async start(
    request: EngineProcessRequest,
    options: EngineProcessOptions = {},
  ): Promise<EngineProcess> {
    const channel = new Channel(options);
    try {
      const answer = await channel.ask({ type: 'compile', request });
      if (answer.type !== 'compiled') throw channel.unexpected(answer);
      return new EngineProcess(channel, answer);
    } catch (err) {
      channel.close();
      throw err;
    }
  }

  /** One result per input, in order. */
  async scan(inputs: readonly Uint8Array[]): Promise<readonly ScanResult[]> {
    const answer = await this.#channel.ask({ type: 'scan', inputs });
    if (answer.type !== 'scanned' || answer.results.length !== inputs.length) {
      throw this.#channel.unexpected(answer);
    }
    return answer.results;
  }

  /** Ends the child (at once, whatever it is doing). */
  close(): void {
    this.#channel.close();
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

  ask(request: ChildRequest): Promise<ChildAnswer> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#pending !== undefined) {
      return Promise.reject(new BundleError('RULES_ENGINE_FAILED', 'the engine process is busy'));
    }
    return new Promise<ChildAnswer>((resolve, reject) => {
      this.#pending = { resolve, reject };
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
      this.#options.onProgress?.(answer.done, answer.total);
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
