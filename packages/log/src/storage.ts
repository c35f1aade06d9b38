/**
 * The storage port of a log. The log service (sequencer, integrator, read
 * API) only ever talks to storage through this interface; the SQLite+files
 * adapter and the PostgreSQL adapter implement it and pass one contract
 * suite (`storage.contract.ts`).
 *
 * Words: MUST / SHOULD as in RFC 2119.
 */

/** An entry as the sequencer hands it to storage. */
export interface PendingEntry {
  readonly data: Uint8Array;
  /** RFC 6962 leaf hash of `data`, computed once by the caller. */
  readonly leafHash: Uint8Array;
}

export interface SequencedEntry extends PendingEntry {
  readonly index: bigint;
}

/**
 * The persisted state of the integrated tree: the latest signed checkpoint
 * and what is needed to keep appending. It may be ahead of the published
 * checkpoint (`readPublished`) while witnesses have not cosigned it yet.
 */
export interface IntegratedState {
  /** Tree size the checkpoint commits to. */
  readonly size: bigint;
  /** The signed checkpoint note (the log's signature only). */
  readonly checkpoint: string;
  /** Compact range (perfect-subtree roots, largest first) of the tree at `size`. */
  readonly compactHashes: readonly Uint8Array[];
}

/**
 * The checkpoint the log publishes at `/checkpoint`: a signed checkpoint the
 * integrator stored earlier (never a newer one), with the witness
 * cosignatures that made it publishable appended.
 */
export interface PublishedCheckpoint {
  /** Tree size the checkpoint commits to; at most the integrated size. */
  readonly size: bigint;
  /** The signed note with its cosignature lines, exactly as served. */
  readonly checkpoint: string;
}

/** A file of the tlog-tiles API: a hash tile or an entry bundle, by its spec path (`tile/0/x001/234`). */
export interface TileWrite {
  readonly path: string;
  readonly data: Uint8Array;
}

/** Held by the one process allowed to integrate. */
export interface IntegratorLease {
  /** False once the lease was lost (connection dropped, lock stolen); the holder MUST stop integrating. */
  isHeld(): boolean;
  release(): Promise<void>;
}

export interface LogStorage {
  /**
   * Assigns consecutive indices to `entries`, in order, starting at the
   * current sequenced size.
   *
   * - MUST be atomic and serialised across every process sharing this storage:
   *   no index is ever assigned twice and none is skipped.
   * - MUST be durable when the promise resolves (fsync'd or committed); the
   *   caller acknowledges the write to its client only after that.
   * - With `dedup`, an entry whose bytes equal an already sequenced entry
   *   (same leaf hash and same bytes) MUST get that entry's original index
   *   and MUST NOT be stored again. Duplicates within one call get the index
   *   of their first occurrence.
   */
  sequence(entries: readonly PendingEntry[], opts: { dedup: boolean }): Promise<bigint[]>;

  /** Number of entries sequenced so far (integrated or not). */
  sequencedSize(): Promise<bigint>;

  /** Entries `[start, start+count)` in index order; MUST return only entries that exist (fewer at the end). */
  readEntries(start: bigint, count: number): Promise<SequencedEntry[]>;

  /** The latest integrated state, or null for a log that was never initialised. */
  readState(): Promise<IntegratedState | null>;

  /**
   * Compare-and-swap of the integrated state: replaces it with `next` only if
   * the stored state's size equals `expectedSize` (null: no state yet).
   * Returns false and changes nothing otherwise. MUST be durable on resolve.
   * This is the last line of defence against two integrators racing: only
   * one of them can move the checkpoint forward from a given size.
   */
  casState(expectedSize: bigint | null, next: IntegratedState): Promise<boolean>;

  /**
   * The published checkpoint, or null for a log that was never initialised.
   * The first state stored by `casState(null, …)` MUST also become the first
   * published checkpoint, in the same atomic write: initialisation publishes
   * the empty tree, which commits to no entry. After that only
   * `casPublished` moves it.
   */
  readPublished(): Promise<PublishedCheckpoint | null>;

  /**
   * Compare-and-swap of the published checkpoint: replaces it with `next`
   * only if the stored published size equals `expectedSize`, `next.size` is
   * at least `expectedSize` (it never moves back) and at most the integrated
   * state's size (only what was signed and stored can be published).
   * Returns false and changes nothing otherwise. MUST be durable on resolve.
   * MUST NOT change the integrated state, and `casState` MUST NOT change the
   * published checkpoint: the two move independently.
   */
  casPublished(expectedSize: bigint, next: PublishedCheckpoint): Promise<boolean>;

  /**
   * Stores tiles and entry bundles. MUST be durable when the promise
   * resolves. Writing the same bytes again to an existing path MUST succeed
   * (an integrator that crashed after writing tiles but before the state CAS
   * redoes its work). Tiles are deterministic functions of the entries, so a
   * different content for an existing path is a bug: MUST reject it.
   */
  writeTiles(tiles: readonly TileWrite[]): Promise<void>;

  /** A stored tile or bundle, or null. */
  readTile(path: string): Promise<Uint8Array | null>;

  /**
   * Tries to become the single integrator. Resolves to a lease, or null when
   * another live process holds it. A lease MUST be lost when its holder dies
   * (process exit, kill -9, connection loss) so another process can take over
   * within a few seconds.
   */
  tryAcquireIntegratorLease(): Promise<IntegratorLease | null>;

  close(): Promise<void>;
}
