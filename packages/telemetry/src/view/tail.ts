/**
 * Verified tailing of one log through its c2sp.org/tlog-tiles read API,
 * shared by the residency view (the residency log) and the residency monitor
 * (the residency log and every site's ingest log).
 *
 * One step, from the last verified state to the log's current checkpoint:
 *
 *  1. fetch `/checkpoint`; it must be signed by the log and cosigned by the
 *     witness quorum of the log's c2sp.org/tlog-policy
 *  2. against the last verified checkpoint: smaller is a rollback, the same
 *     size with another root a split view, larger needs a consistency proof
 *     built from the new tree's hash tiles (RFC 9162 §2.1.4.2)
 *  3. fetch every new entry bundle, hash the entries (RFC 9162 §2.1.1) onto
 *     the verified compact range and require the checkpoint's root: the new
 *     entries are exactly what the witnessed tree holds.
 *
 * Nothing is persisted here: the caller applies the entries and stores the
 * new state in one transaction (`TailStore.commit`), so a crash never leaves
 * a state ahead of the entries it has applied.
 */
import {
  type Checkpoint,
  CompactRange,
  type Policy,
  TILE_WIDTH,
  TlogError,
  bytesEqual,
  consistencyProof,
  encodeBase64,
  hashLeaf,
  parsePolicy,
  tileHashReader,
  tilePath,
  tilesForConsistency,
  verifyCheckpointWithPolicy,
  verifyConsistency,
} from '@glasshouse/tlog';
import { TilesFetcher, WitnessError } from '@glasshouse/witness';
import { TelemetryError } from '../errors.js';

/** What a tail knows after verifying a checkpoint. */
export interface TailState {
  readonly origin: string;
  /** The verified checkpoint, as the signed note the log served (cosignatures included). */
  readonly checkpoint: string;
  readonly size: bigint;
  /** The RFC 9162 compact range of the verified tree (`CompactRange` hashes, largest first). */
  readonly compact: readonly Uint8Array[];
}

export interface TailEntry {
  readonly index: bigint;
  readonly data: Uint8Array;
}

/** One verified step: the new state and the entries it added, in index order. */
export interface TailUpdate {
  readonly previous: TailState | null;
  readonly next: TailState;
  /** Policy names of the witnesses whose cosignatures counted. */
  readonly cosigners: readonly string[];
  readonly entries: readonly TailEntry[];
}

export interface VerifiedTailOptions {
  /** The log's tlog-tiles prefix. */
  readonly url: string;
  /** The log's c2sp.org/tlog-policy (its `log` line and the witness quorum). */
  readonly policy: string | Policy;
  readonly now?: () => Date;
  /** Seconds a cosignature may lie in the future. Default 60. */
  readonly maxFutureSkewSeconds?: number;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly backoffMs?: number;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

export class VerifiedTail {
  readonly url: string;
  readonly policy: Policy;
  readonly #fetcher: TilesFetcher;
  readonly #now: () => Date;
  readonly #skew: bigint;
  #lastVerified:
    | {
        readonly note: Uint8Array;
        readonly result: { checkpoint: Checkpoint; cosigners: string[] };
      }
    | undefined;

  constructor(opts: VerifiedTailOptions) {
    this.policy = typeof opts.policy === 'string' ? parsePolicy(opts.policy) : opts.policy;
    if (this.policy.logs.length === 0) {
      throw new TelemetryError('CONFIG_INVALID', 'the tlog-policy names no log');
    }
    this.#fetcher = new TilesFetcher({
      url: opts.url,
      ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
      timeoutMs: opts.timeoutMs ?? 5_000,
      retries: opts.retries ?? 1,
      backoffMs: opts.backoffMs ?? 100,
    });
    this.url = this.#fetcher.url;
    this.#now = opts.now ?? ((): Date => new Date());
    this.#skew = BigInt(opts.maxFutureSkewSeconds ?? 60);
  }

  /** The origin the policy's (first) log signs with. */
  get origin(): string {
    return (this.policy.logs[0] as Policy['logs'][number]).verifier.name;
  }

  /** Verifies the log's current checkpoint against `prev` and returns the new entries. */
  async step(prev: TailState | null, signal?: AbortSignal): Promise<TailUpdate> {
    let note: Uint8Array;
    try {
      note = await this.#fetcher.checkpoint(signal);
    } catch (err) {
      throw this.#fetchFailed(err, 'checkpoint');
    }
    const text = decoder.decode(note);
    const { checkpoint: cp, cosigners } = this.#verifyNote(note, text);
    if (prev !== null && cp.origin !== prev.origin) {
      throw new TelemetryError('CHECKPOINT_INVALID', 'the checkpoint is from another log', {
        evidence: { origin: cp.origin, expected: prev.origin, checkpoint: text },
      });
    }
    const start = prev ?? { origin: cp.origin, checkpoint: '', size: 0n, compact: [] };
    if (prev !== null) {
      const same = this.#compareWithPrevious(prev, cp, text);
      if (same) return { previous: prev, next: prev, cosigners, entries: [] };
      if (prev.size > 0n) await this.#checkConsistency(prev, cp, text, signal);
    }
    const range = new CompactRange({ size: start.size, hashes: start.compact });
    const entries = await this.#fetchEntries(start.size, cp.size, text, signal);
    range.appendMany(entries.map((e) => hashLeaf(e.data)));
    // RFC 9162 §2.1.1: the verified leaves plus the new ones must hash to the signed root.
    const root = range.root();
    if (!bytesEqual(root, cp.rootHash)) {
      throw new TelemetryError(
        'LOG_INCONSISTENT',
        `the entries served do not hash to the root of the checkpoint of size ${cp.size}`,
        {
          evidence: {
            previous: prev?.checkpoint ?? null,
            checkpoint: text,
            recomputedRoot: encodeBase64(root),
          },
        },
      );
    }
    return {
      previous: prev,
      next: {
        origin: cp.origin,
        checkpoint: text,
        size: cp.size,
        compact: stateHashes(range, cp.size),
      },
      cosigners,
      entries,
    };
  }

  close(): void {
    this.#fetcher.close();
  }

  #verifyNote(note: Uint8Array, text: string): { checkpoint: Checkpoint; cosigners: string[] } {
    // A tail fetches the same checkpoint again and again until the log grows: the same bytes
    // verified under the same policy verify again (a cosignature's time only moves into the
    // allowed skew, never out of it), so the last verified note is not checked twice.
    const last = this.#lastVerified;
    if (last !== undefined && bytesEqual(last.note, note)) return last.result;
    try {
      // c2sp.org/tlog-policy: signed by the policy's log (key name = origin), cosigned to quorum.
      const v = verifyCheckpointWithPolicy(note, this.policy, {
        now: BigInt(Math.floor(this.#now().getTime() / 1000)),
        maxFutureSkew: this.#skew,
      });
      const result = { checkpoint: v.checkpoint, cosigners: v.cosigners };
      this.#lastVerified = { note: note.slice(), result };
      return result;
    } catch (err) {
      if (!(err instanceof TlogError)) throw err;
      const quorum = err.code === 'POLICY_QUORUM_NOT_MET';
      throw new TelemetryError(
        quorum ? 'CHECKPOINT_QUORUM_NOT_MET' : 'CHECKPOINT_INVALID',
        quorum
          ? 'the checkpoint lacks the witness quorum of the log policy'
          : `the checkpoint does not verify: ${err.message}`,
        { cause: err, evidence: { checkpoint: text, code: err.code, url: this.url } },
      );
    }
  }

  /** True when `cp` is the verified checkpoint's tree again. */
  #compareWithPrevious(prev: TailState, cp: Checkpoint, text: string): boolean {
    const both = { previous: prev.checkpoint, checkpoint: text, url: this.url };
    if (cp.size < prev.size) {
      throw new TelemetryError(
        'LOG_ROLLBACK',
        `the log went back from size ${prev.size} to ${cp.size}`,
        { evidence: both },
      );
    }
    if (cp.size > prev.size) return false;
    const prevRoot = new CompactRange({ size: prev.size, hashes: prev.compact }).root();
    if (bytesEqual(prevRoot, cp.rootHash)) return true;
    // c2sp.org/tlog-checkpoint: one size, one root; two roots are a split view.
    throw new TelemetryError('LOG_INCONSISTENT', `two different trees of size ${cp.size}`, {
      evidence: both,
    });
  }

  /** RFC 9162 §2.1.4.2: the new tree extends the verified one, proved from its hash tiles. */
  async #checkConsistency(
    prev: TailState,
    cp: Checkpoint,
    text: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const tiles = new Map<string, Uint8Array>();
    try {
      await Promise.all(
        tilesForConsistency(prev.size, cp.size).map(async (ref) => {
          if (ref.kind !== 'hash') return;
          const t = await this.#fetcher.hashTile(ref.level, ref.index, ref.width, signal);
          tiles.set(tilePath(ref), t.data);
        }),
      );
    } catch (err) {
      throw this.#fetchFailed(err, 'consistency tiles');
    }
    const prevRoot = new CompactRange({ size: prev.size, hashes: prev.compact }).root();
    let proof: Uint8Array[] = [];
    try {
      proof = await consistencyProof(prev.size, cp.size, tileHashReader(cp.size, tiles));
      verifyConsistency(prev.size, cp.size, proof, prevRoot, cp.rootHash);
    } catch (err) {
      if (!(err instanceof TlogError)) throw err;
      throw new TelemetryError(
        'LOG_INCONSISTENT',
        `the tree of size ${cp.size} is not consistent with the verified size ${prev.size}`,
        {
          cause: err,
          evidence: {
            previous: prev.checkpoint,
            checkpoint: text,
            proof: proof.map(encodeBase64),
            url: this.url,
          },
        },
      );
    }
  }

  /** Entries [from, to), bundle by bundle (c2sp.org/tlog-tiles entry bundles). */
  async #fetchEntries(
    from: bigint,
    to: bigint,
    text: string,
    signal: AbortSignal | undefined,
  ): Promise<TailEntry[]> {
    const out: TailEntry[] = [];
    const width = BigInt(TILE_WIDTH);
    for (let n = from / width; n * width < to; n++) {
      const end = (n + 1n) * width < to ? (n + 1n) * width : to;
      let entries: readonly Uint8Array[];
      try {
        entries = (await this.#fetcher.entryBundle(n, Number(end - n * width), signal)).entries;
      } catch (err) {
        throw this.#fetchFailed(err, `entry bundle ${n}`, text);
      }
      for (let i = from > n * width ? from - n * width : 0n; n * width + i < end; i++) {
        // Copied: a bundle's entries are views into one buffer.
        out.push({ index: n * width + i, data: Uint8Array.from(entries[Number(i)] as Uint8Array) });
      }
    }
    return out;
  }

  #fetchFailed(err: unknown, what: string, checkpoint?: string): TelemetryError {
    if (!(err instanceof WitnessError)) throw err;
    if (err.code === 'TILE_MALFORMED') {
      return new TelemetryError('LOG_TILES_INVALID', `the log served a malformed ${what}`, {
        cause: err,
        evidence: { ...err.evidence, ...(checkpoint === undefined ? {} : { checkpoint }) },
      });
    }
    return new TelemetryError('LOG_UNREACHABLE', `cannot read the ${what} of ${this.url}`, {
      cause: err,
      evidence: { url: this.url, code: err.code },
    });
  }
}

/** The compact range's hashes (what `CompactRange` is rebuilt from). */
function stateHashes(range: CompactRange, size: bigint): Uint8Array[] {
  const state = range.state();
  if (state.size !== size) throw new Error('compact range size mismatch');
  return [...state.hashes];
}
