/**
 * Starts a module's database thread: `name.js` next to the calling module
 * when that module runs compiled, or, from the sources (tests, `tsx`),
 * `name.ts` bundled once per process with the workspace packages it
 * imports (types stripped, nothing else; the database drivers stay
 * external) and run as CommonJS whose `require` resolves from its file.
 * Plain Node cannot load a `.ts` worker, and the sources have no `.js`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const bundled = new Map<string, string>();

/** `here`: the caller's `import.meta.url`; `name`: the worker module's file name without extension. */
export function startModuleThread(here: string, name: string, workerData: unknown): Worker {
  const compiled = new URL(`./${name}.js`, here);
  if (!here.endsWith('.ts') && existsSync(fileURLToPath(compiled))) {
    return new Worker(compiled, { workerData });
  }
  return new Worker(sourceCode(fileURLToPath(new URL(`./${name}.ts`, here))), {
    eval: true,
    workerData,
  });
}

function sourceCode(file: string): string {
  let code = bundled.get(file);
  if (code === undefined) {
    const require = createRequire(file);
    const esbuild = require('esbuild') as {
      buildSync(opts: object): { outputFiles: { text: string }[] };
    };
    const [out] = esbuild.buildSync({
      entryPoints: [file],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['better-sqlite3', 'pg'],
      write: false,
      // A module may build a URL from import.meta.url for its own workers; not in this thread.
      logOverride: { 'empty-import-meta': 'silent' },
    }).outputFiles;
    if (out === undefined) throw new Error(`esbuild produced nothing for ${file}`);
    code =
      `(function (require, module, exports) {\n${out.text}\n})` +
      `(require('node:module').createRequire(${JSON.stringify(file)}), { exports: {} }, {});`;
    bundled.set(file, code);
  }
  return code;
}

/** An error as it crosses from a thread: its code (if coded), message and evidence. */
export interface WireError {
  readonly code?: string;
  readonly message: string;
  readonly evidence?: Record<string, unknown>;
  readonly cause?: { readonly message: string; readonly code?: string };
}

/** The thread's first message: it opened what it owns, or why not. */
export type ThreadReady =
  { readonly ready: true } | { readonly ready: false; readonly error: WireError };

/** The thread's answer to request `id`. */
export type ThreadAnswer =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WireError };

/** How a channel's owner names failures in its own error codes. */
export interface ThreadErrors {
  /** The thread failed or exited before it was ready. */
  readonly startFailed: (cause: unknown) => Error;
  /** The thread said it could not open what it owns. */
  readonly notReady: (error: WireError) => Error;
  /** The thread refused a request. */
  readonly refused: (error: WireError) => Error;
  /** The thread stopped (crashed, exited) while it had work or later. */
  readonly stopped: (cause: unknown) => Error;
  /** The owner closed the channel. */
  readonly closed: () => Error;
}

type Omitted<T> = T extends unknown ? Omit<T, 'id'> : never;

/**
 * One database thread (`startModuleThread`) and the requests waiting for its
 * answers: each request gets an id, each answer settles its request. The
 * thread keeps the process alive only while a request is in flight; when it
 * stops, every waiting request and every later one fails with `stopped`.
 */
export class ThreadChannel<Request extends { readonly id: number }> {
  readonly #worker: Worker;
  readonly #errors: ThreadErrors;
  readonly #waiting = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  #nextId = 1;
  #dead: Error | undefined;

  private constructor(worker: Worker, errors: ThreadErrors) {
    this.#worker = worker;
    this.#errors = errors;
    worker.on('message', (res: ThreadAnswer) => {
      const w = this.#waiting.get(res.id);
      if (w === undefined) return;
      this.#waiting.delete(res.id);
      if (this.#waiting.size === 0) this.#worker.unref();
      if (res.ok) w.resolve(res.value);
      else w.reject(errors.refused(res.error));
    });
    const stopped = (cause: unknown): void => {
      this.#dead ??= errors.stopped(cause);
      for (const w of this.#waiting.values()) w.reject(this.#dead);
      this.#waiting.clear();
    };
    worker.on('error', stopped);
    worker.on('exit', (code) => {
      stopped(new Error(`exit code ${code}`));
    });
  }

  /** Starts `name` next to `here` (startModuleThread); resolves once it reported ready. */
  static start<Request extends { readonly id: number }>(
    here: string,
    name: string,
    workerData: unknown,
    errors: ThreadErrors,
  ): Promise<ThreadChannel<Request>> {
    const worker = startModuleThread(here, name, workerData);
    return new Promise((resolve, reject) => {
      const failed = (cause: unknown): void => {
        reject(errors.startFailed(cause));
      };
      const exited = (code: number): void => {
        failed(new Error(`exit code ${code}`));
      };
      worker.once('error', failed);
      worker.once('exit', exited);
      worker.once('message', (msg: ThreadReady) => {
        worker.off('error', failed);
        worker.off('exit', exited);
        if (msg.ready) {
          worker.unref();
          resolve(new ThreadChannel<Request>(worker, errors));
          return;
        }
        void worker.terminate();
        reject(errors.notReady(msg.error));
      });
    });
  }

  /** The id the next `call` will carry (a caller that names later work by it). */
  get nextId(): number {
    return this.#nextId;
  }

  call<T>(req: Omitted<Request>, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.#waiting.size === 0) this.#worker.ref();
      this.#waiting.set(id, { resolve: resolve, reject });
      this.#worker.postMessage({ ...req, id }, transfer);
    });
  }

  /** A message that has no answer (dropped once the thread stopped). */
  post(message: unknown): void {
    if (this.#dead === undefined) this.#worker.postMessage(message);
  }

  /** Why the channel serves no call any more (the thread stopped, or it was closed), else undefined. */
  get failure(): Error | undefined {
    return this.#dead;
  }

  /** Throws once the thread stopped (failed or closed). */
  checkAlive(): void {
    if (this.#dead !== undefined) throw this.#dead;
  }

  async stop(): Promise<void> {
    this.#dead ??= this.#errors.closed();
    await this.#worker.terminate();
  }
}
