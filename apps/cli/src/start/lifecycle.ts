/**
 * Starting and stopping `start`: what to close on the way out, and how a
 * stop asked for (SIGINT/SIGTERM, or npm gone) reaches the bring-up, which
 * checks it between steps.
 */
import { untilSignal, type Io } from '../io.js';

/** Things to close on the way out, most recent first. */
export class Closers {
  readonly #closers: (() => Promise<void>)[] = [];

  add(close: () => Promise<void>): void {
    this.#closers.push(close);
  }

  /**
   * A background loop (a monitor, the index) closed with the rest: on the
   * way out its signal aborts, the loop is awaited, then `close` runs.
   * Registered before the loop starts, so a stop during its first pass
   * still closes what it opened.
   */
  addLoop(close: () => Promise<void>): {
    start(run: (signal: AbortSignal) => Promise<void>, onStopped: (err: unknown) => void): void;
  } {
    const stop = new AbortController();
    let running: Promise<void> | undefined;
    this.add(async () => {
      stop.abort();
      await running;
      await close();
    });
    return {
      start: (run, onStopped) => {
        running = run(stop.signal).catch(onStopped);
      },
    };
  }

  async closeAll(io: Io): Promise<void> {
    while (this.#closers.length > 0) {
      const close = this.#closers.pop();
      try {
        await close?.();
      } catch (err) {
        // Keep closing the rest; say what failed.
        io.stderr(
          `start: while shutting down: ${err instanceof Error ? err.message : String(err)}\n`,
        );
      }
    }
  }
}

/** A stop was asked for (SIGINT/SIGTERM) while starting up. */
export class StartInterrupted extends Error {
  override readonly name = 'StartInterrupted';
}

/** How the bring-up learns that a stop was asked for. */
export interface StopWatch {
  /** Throws StartInterrupted once a stop was asked for; called between steps. */
  readonly checkStop: () => void;
  /** Resolves when a stop is asked for. */
  readonly requested: Promise<void>;
  /** Everything is up: a stop now shuts down rather than interrupting. */
  readonly up: () => void;
}

/** Watches for a stop from the first signal on; a second signal quits at once. */
export function watchForStop(io: Io): StopWatch {
  let up = false;
  let stopping = false;
  const quitting = (signal: NodeJS.Signals): void => {
    io.stderr(`start: ${signal} again, quitting at once\n`);
  };
  const requested = Promise.race([untilSignal(quitting), untilNpmGone()]).then(() => {
    stopping = true;
    if (!up) io.stderr('start: stopping after the current step (again to quit at once)\n');
  });
  return {
    checkStop: () => {
      if (stopping) throw new StartInterrupted('stopped while starting');
    },
    requested,
    up: () => {
      up = true;
    },
  };
}

/** How often `start` under npm checks that npm is still there. */
const PARENT_CHECK_MS = 1000;

/**
 * Under `npm start` (the script execs node, so npm is the parent and
 * forwards SIGTERM/SIGINT), resolves when npm itself is gone without a
 * signal reaching node (npm killed with SIGKILL): the services stop rather
 * than keep the ports. Never resolves outside npm, where a parent exiting
 * (a shell that started `glasshouse start &`) is no reason to stop.
 */
function untilNpmGone(): Promise<void> {
  if (process.env.npm_lifecycle_event !== 'start') return new Promise(() => undefined);
  const parent = process.ppid;
  return new Promise((resolvePromise) => {
    const timer = setInterval(() => {
      if (process.ppid !== parent) {
        clearInterval(timer);
        resolvePromise();
      }
    }, PARENT_CHECK_MS);
    timer.unref();
  });
}
