/**
 * The state port of a witness. The witness core only ever talks to its
 * state through this interface; the SQLite adapter (`sqlite-state.ts`) and
 * the PostgreSQL adapter (`postgres-state.ts`) implement it and pass one
 * contract suite (`state.contract.ts`).
 *
 * Words: MUST / SHOULD as in RFC 2119.
 */

/** A log the witness cosigns for: its origin and the verifier keys it trusts for it. */
export interface KnownLog {
  /** The checkpoint origin line, unique per log (c2sp.org/tlog-witness). */
  readonly origin: string;
  /** Note verifier keys (`name+hexid+base64`), in the order they were added. */
  readonly verifierKeys: readonly string[];
}

/** The latest checkpoint the witness cosigned for one log. */
export interface WitnessedCheckpoint {
  readonly size: bigint;
  /** RFC 6962 root hash at `size` (32 bytes). */
  readonly rootHash: Uint8Array;
  /** The signed note: checkpoint text, the log's verified signature lines and the witness's cosignature line. */
  readonly note: string;
}

export interface WitnessStateStore {
  /**
   * Trusts `verifierKey` for `origin`, registering the log when it is new.
   *
   * - MUST be idempotent: adding a key that is already there changes nothing.
   * - MUST be durable when the promise resolves.
   * - MUST NOT touch the log's latest checkpoint.
   */
  addLogKey(origin: string, verifierKey: string): Promise<void>;

  /** The log registered under `origin`, or null. MUST reflect every `addLogKey` that resolved before the call. */
  getLog(origin: string): Promise<KnownLog | null>;

  /** Every registered log, ordered by origin. */
  listLogs(): Promise<KnownLog[]>;

  /** The latest cosigned checkpoint of `origin`, or null when it never cosigned one. */
  getLatest(origin: string): Promise<WitnessedCheckpoint | null>;

  /**
   * Compare-and-swap of a log's latest cosigned checkpoint: replaces it with
   * `next` only if the stored size equals `expectedSize`, a log that has none
   * counting as size 0 (c2sp.org/tlog-witness: "or zero if it never cosigned
   * a checkpoint for that origin"). Returns false and changes nothing
   * otherwise.
   *
   * - MUST be atomic with respect to every other caller sharing this state
   *   (other requests, other processes): of two calls with the same
   *   `expectedSize` and different sizes, at most one returns true. This is
   *   the spec's required atomicity of "check the old size" and "persist".
   * - MUST be durable when it returns true (fsync'd or committed): the
   *   witness answers with a cosignature only after that.
   * - MUST throw `LOG_UNKNOWN` for an origin that was never registered.
   *
   * Comparing sizes is enough: the witness never moves a log to the same
   * size with another root, and sizes only grow, so a size names one state.
   */
  casLatest(origin: string, expectedSize: bigint, next: WitnessedCheckpoint): Promise<boolean>;

  /** Releases connections and locks; idempotent. */
  close(): Promise<void>;
}
