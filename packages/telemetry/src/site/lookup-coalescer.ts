/**
 * Single reputation lookups that arrive together are answered together: the
 * lookups asked for while the event loop reads one round of sockets are sent
 * to storage as one batch when that round ends (`setImmediate`). A batch is
 * one read transaction on SQLite and one query on PostgreSQL; looked up one
 * at a time between HTTP requests, each lookup found the B-tree pages cold.
 * A lookup waits for no timer, only for the end of the round it came in.
 */
import { TelemetryError } from '../errors.js';
import type { HashFacts } from './storage.js';

interface Waiting {
  readonly hash: string;
  readonly resolve: (facts: HashFacts) => void;
  readonly reject: (err: unknown) => void;
}

export class LookupCoalescer {
  readonly #lookup: (hashes: readonly string[]) => Promise<HashFacts[]>;
  readonly #max: number;
  #waiting: Waiting[] = [];

  /** `max`: most hashes in one batch (a full batch is sent at once). */
  constructor(lookup: (hashes: readonly string[]) => Promise<HashFacts[]>, max: number) {
    this.#lookup = lookup;
    this.#max = max;
  }

  /** The facts of `hash` (validated by the caller), from the batch of this round. */
  facts(hash: string): Promise<HashFacts> {
    return new Promise((resolve, reject) => {
      if (this.#waiting.length === 0) {
        setImmediate(() => {
          this.#flush();
        });
      }
      this.#waiting.push({ hash, resolve, reject });
      if (this.#waiting.length >= this.#max) this.#flush();
    });
  }

  #flush(): void {
    const batch = this.#waiting;
    if (batch.length === 0) return;
    this.#waiting = [];
    let answer: Promise<HashFacts[]>;
    try {
      answer = this.#lookup(batch.map((w) => w.hash));
    } catch (err) {
      answer = Promise.reject(
        err instanceof Error ? err : new TelemetryError('STORAGE_FAILED', 'site storage failed'),
      );
    }
    answer.then(
      (facts) => {
        batch.forEach((w, i) => {
          const f = facts[i];
          if (f !== undefined && f.sha256 === w.hash) w.resolve(f);
          else w.reject(new TelemetryError('STORAGE_FAILED', 'no answer for the hash'));
        });
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
