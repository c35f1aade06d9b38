/**
 * Time to integrate, as a client sees it: a sample of single-entry adds is
 * sent alongside the load, and for each one the time from its
 * acknowledgement (the `200` of `POST /add` received) to the first
 * `GET /checkpoint` answer whose tree size covers its index. `/checkpoint` is
 * polled back to back (a short pause between polls) on its own connection,
 * so a sample includes the poll's own latency under load: an upper bound.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { makeEntry } from './entries.js';

interface Pending {
  readonly index: number;
  readonly ackAt: number;
}

export interface IntegrationSamples {
  /** Milliseconds from acknowledgement to an observed covering checkpoint. */
  readonly latenciesMs: number[];
  /** Sampled adds that were refused or failed (not acknowledged). */
  readonly addFailures: number;
  /** Acknowledged samples that no checkpoint covered before the sampler gave up. */
  readonly uncovered: number;
  /** Checkpoint polls made, and their mean round trip. */
  readonly polls: number;
  readonly meanPollMs: number;
}

export class IntegrationSampler {
  readonly #url: string;
  readonly #everyMs: number;
  readonly #pollPauseMs: number;
  #pending: Pending[] = [];
  #latencies: number[] = [];
  #addFailures = 0;
  #inFlight = new Set<Promise<void>>();
  #adding = false;
  #polling = false;
  #pollLoop: Promise<void> | undefined;
  #addTimer: NodeJS.Timeout | undefined;
  #polls = 0;
  #pollMs = 0;

  constructor(url: string, opts: { everyMs?: number; pollPauseMs?: number } = {}) {
    this.#url = url;
    this.#everyMs = opts.everyMs ?? 20;
    this.#pollPauseMs = opts.pollPauseMs ?? 5;
  }

  start(): void {
    this.#adding = true;
    this.#polling = true;
    this.#pollLoop = this.#poll();
    this.#addTimer = setInterval(() => {
      // Bounded: under heavy load acks are slow, and the sample must not become load.
      if (!this.#adding || this.#inFlight.size >= 8) return;
      const p = this.#addOne().finally(() => this.#inFlight.delete(p));
      this.#inFlight.add(p);
    }, this.#everyMs);
  }

  /** Stops sampling, then waits (up to `drainMs`) for checkpoints to cover every sample. */
  async stop(drainMs = 30_000): Promise<IntegrationSamples> {
    this.#adding = false;
    clearInterval(this.#addTimer);
    await Promise.all(this.#inFlight);
    const deadline = performance.now() + drainMs;
    while (this.#pending.length > 0 && performance.now() < deadline) await sleep(20);
    this.#polling = false;
    await this.#pollLoop;
    return {
      latenciesMs: this.#latencies,
      addFailures: this.#addFailures,
      uncovered: this.#pending.length,
      polls: this.#polls,
      meanPollMs: this.#polls === 0 ? 0 : this.#pollMs / this.#polls,
    };
  }

  async #addOne(): Promise<void> {
    try {
      const res = await fetch(`${this.#url}/add`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: makeEntry(1024),
      });
      const body = (await res.json()) as { index?: unknown };
      const ackAt = performance.now();
      if (res.status !== 200 || typeof body.index !== 'number') {
        this.#addFailures++;
        return;
      }
      this.#pending.push({ index: body.index, ackAt });
    } catch {
      this.#addFailures++;
    }
  }

  async #poll(): Promise<void> {
    while (this.#polling) {
      const t0 = performance.now();
      try {
        const res = await fetch(`${this.#url}/checkpoint`);
        const text = await res.text();
        const now = performance.now();
        this.#polls++;
        this.#pollMs += now - t0;
        // c2sp.org/tlog-checkpoint: origin, then the tree size in decimal.
        const size = Number(text.split('\n')[1]);
        if (res.status === 200 && Number.isSafeInteger(size)) {
          const still: Pending[] = [];
          for (const p of this.#pending) {
            if (p.index < size) this.#latencies.push(now - p.ackAt);
            else still.push(p);
          }
          this.#pending = still;
        }
      } catch {
        // A failed poll is retried; samples simply wait longer.
      }
      await sleep(this.#pollPauseMs);
    }
  }
}

/** Nearest-rank percentile of unsorted values; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
