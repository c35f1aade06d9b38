import {
  type Checkpoint,
  type NoteSignerKey,
  type NoteVerifierKey,
  type Policy,
  type TileRef,
  consistencyProof,
  emptyRoot,
  formatCheckpoint,
  formatTlogProof,
  inclusionProof,
  openCheckpoint,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  tileHashReader,
  tilesForConsistency,
  tilesForInclusion,
} from '@glasshouse/tlog';
import { LogError } from './errors.js';
import { Integrator, type PublishCheckpoint } from './integrator.js';
import { LogMetrics } from './metrics.js';
import { readProofTiles } from './proofs.js';
import { type SequencedResult, Sequencer, type SequencerOptions } from './sequencer.js';
import type { IntegratedState, LogStorage } from './storage.js';
import { Witnessing, type WitnessStatus, type WitnessingOptions } from './witnessing.js';

export interface InitLogOptions {
  /** The checkpoint origin; the signer key's name must be the same (c2sp.org/tlog-policy). */
  readonly origin: string;
  /** A `PRIVATE+KEY+…` signed-note key. */
  readonly signerKey: string;
  readonly storage: LogStorage;
}

export interface InitLogResult {
  readonly verifierKey: string;
  readonly checkpoint: string;
  /** False when the log already existed with this origin and key. */
  readonly created: boolean;
}

/**
 * Creates a log in `storage` by signing the checkpoint of the empty tree.
 * Running it again with the same origin and key is a no-op; with another
 * origin or key it refuses (ALREADY_INITIALISED).
 */
export async function initLog(opts: InitLogOptions): Promise<InitLogResult> {
  const signer = signerFor(opts.signerKey, opts.origin);
  const verifier = parseVerifierKey(signer.verifierKey);
  const existing = await opts.storage.readState();
  if (existing !== null) {
    checkExisting(existing, verifier, opts.origin);
    return { verifierKey: signer.verifierKey, checkpoint: existing.checkpoint, created: false };
  }
  // RFC 9162 §2.1.1: the empty tree's hash is SHA-256 of the empty string.
  const text = formatCheckpoint({
    origin: opts.origin,
    size: 0n,
    rootHash: emptyRoot(),
    extensions: [],
  });
  const checkpoint = signNote(text, [signer]);
  if (!(await opts.storage.casState(null, { size: 0n, checkpoint, compactHashes: [] }))) {
    // Someone initialised it concurrently: accept only if it is the same log.
    const now = await opts.storage.readState();
    if (now === null) throw new LogError('STATE_CONFLICT', 'initialisation raced and lost');
    checkExisting(now, verifier, opts.origin);
    return { verifierKey: signer.verifierKey, checkpoint: now.checkpoint, created: false };
  }
  return { verifierKey: signer.verifierKey, checkpoint, created: true };
}

function signerFor(signerKey: string, origin: string): NoteSignerKey {
  let signer: NoteSignerKey;
  try {
    signer = parseSignerKey(signerKey);
  } catch (cause) {
    throw new LogError('KEY_INVALID', 'not a PRIVATE+KEY+… Ed25519 signed-note key', { cause });
  }
  // c2sp.org/tlog-policy: the log's key name is its checkpoint origin.
  if (signer.name !== origin) {
    throw new LogError('KEY_INVALID', 'the key name must be the log origin', {
      evidence: { keyName: signer.name, origin },
    });
  }
  return signer;
}

function checkExisting(state: IntegratedState, verifier: NoteVerifierKey, origin: string): void {
  try {
    openCheckpoint(state.checkpoint, [verifier], { origin });
  } catch (cause) {
    throw new LogError(
      'ALREADY_INITIALISED',
      'storage already holds a log with another origin or key',
      { cause, evidence: { checkpoint: state.checkpoint, origin } },
    );
  }
}

export interface OpenLogOptions {
  readonly storage: LogStorage;
  /** Needed to integrate. Without it the log is a frontend: it sequences and serves reads. */
  readonly signerKey?: string;
  /** Needed when there is no signer key. */
  readonly verifierKey?: string;
  /** Run an integrator (it integrates only while it holds the storage's lease). Default: with a signer key. */
  readonly integrate?: boolean;
  readonly sequencer?: Omit<SequencerOptions, 'metrics'>;
  readonly integrator?: {
    intervalMs?: number;
    maxEntriesPerRound?: number;
    /** A custom publishing step; leave it out with `witnessing`. */
    publish?: PublishCheckpoint;
    publishRetryMaxMs?: number;
    onError?: (err: unknown) => void;
  };
  /**
   * Publish only checkpoints a quorum of the policy's witnesses cosigned
   * (c2sp.org/tlog-witness, c2sp.org/tlog-policy). Without it every signed
   * checkpoint is published as it is.
   */
  readonly witnessing?: LogWitnessingOptions;
  /** How often waiters poll the stored state. Default 50 ms. */
  readonly pollMs?: number;
}

export type LogWitnessingOptions = Omit<
  WitnessingOptions,
  'logVerifierKey' | 'storage' | 'metrics' | 'policy'
> & { readonly policy: Policy };

/** How this process publishes checkpoints (for `/healthz`). */
export type WitnessingMode =
  /** No witness policy: every signed checkpoint is published. */
  | 'none'
  /** Only checkpoints whose cosignatures meet the policy's quorum are published. */
  | 'required'
  /** A policy, but the development flag publishes without a quorum. */
  | 'disabled';

/** A verified view of a signed checkpoint. */
export interface SignedCheckpoint {
  readonly note: string;
  readonly checkpoint: Checkpoint;
}

/** Opens an initialised log for writing and reading. */
export async function openLog(opts: OpenLogOptions): Promise<Log> {
  const state = await opts.storage.readState();
  if (state === null) {
    throw new LogError('NOT_INITIALISED', 'the log has no checkpoint yet; run init first');
  }
  let signer: NoteSignerKey | undefined;
  let verifierText = opts.verifierKey;
  if (opts.signerKey !== undefined) {
    try {
      signer = parseSignerKey(opts.signerKey);
    } catch (cause) {
      throw new LogError('KEY_INVALID', 'not a PRIVATE+KEY+… Ed25519 signed-note key', { cause });
    }
    verifierText = signer.verifierKey;
  }
  if (verifierText === undefined) {
    throw new LogError('KEY_INVALID', 'openLog needs a signer key or a verifier key');
  }
  let verifier: NoteVerifierKey;
  try {
    verifier = parseVerifierKey(verifierText);
  } catch (cause) {
    throw new LogError('KEY_INVALID', 'not an Ed25519 verifier key', { cause });
  }
  checkExisting(state, verifier, verifier.name);
  const log = new Log(opts, verifier, signer);
  await log.latest();
  return log;
}

/**
 * A running log: the sequencer (writes), an optional integrator, and reads
 * (checkpoint, tiles, proofs, receipts) served from storage.
 */
export class Log {
  readonly origin: string;
  readonly verifierKey: string;
  readonly metrics = new LogMetrics();
  readonly storage: LogStorage;
  readonly #verifier: NoteVerifierKey;
  readonly #sequencer: Sequencer;
  readonly #integrator: Integrator | undefined;
  readonly #witnessing: Witnessing | undefined;
  readonly #witnessingMode: WitnessingMode;
  readonly #pollMs: number;
  #cached: SignedCheckpoint | undefined;
  #waiters: { index: bigint; resolve(c: SignedCheckpoint): void; reject(e: unknown): void }[] = [];
  #pollTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(opts: OpenLogOptions, verifier: NoteVerifierKey, signer: NoteSignerKey | undefined) {
    this.storage = opts.storage;
    this.#verifier = verifier;
    this.origin = verifier.name;
    this.verifierKey = verifier.text;
    this.#pollMs = opts.pollMs ?? 50;
    this.#sequencer = new Sequencer(opts.storage, { ...opts.sequencer, metrics: this.metrics });
    const w = opts.witnessing;
    this.#witnessingMode =
      w === undefined ? 'none' : w.publishUnwitnessed === true ? 'disabled' : 'required';
    if (w !== undefined && opts.integrator?.publish !== undefined) {
      throw new LogError('BAD_REQUEST', 'give either witnessing or a custom publish step');
    }
    if (signer !== undefined && opts.integrate !== false) {
      if (w !== undefined) {
        this.#witnessing = new Witnessing({
          ...w,
          logVerifierKey: verifier.text,
          storage: opts.storage,
          metrics: this.metrics,
        });
      }
      this.#integrator = new Integrator({
        storage: opts.storage,
        signer,
        verifier,
        metrics: this.metrics,
        ...opts.integrator,
        ...(this.#witnessing === undefined
          ? {}
          : {
              publish: this.#witnessing.publish,
              isPublishComplete: (note: string) => this.#witnessing?.isComplete(note) ?? true,
            }),
        onPublished: () => {
          this.#poll();
        },
      });
      this.#integrator.start();
    } else if (opts.integrate === true) {
      throw new LogError('KEY_INVALID', 'integrating needs the signer key');
    }
  }

  /** Whether this process currently integrates (holds the lease). */
  get integrating(): boolean {
    return this.#integrator?.leading ?? false;
  }

  get queueDepth(): number {
    return this.#sequencer.queueDepth;
  }

  /** How checkpoints are published: with a witness quorum, without witnesses, or the development flag. */
  get witnessingMode(): WitnessingMode {
    return this.#witnessingMode;
  }

  /** The policy's witnesses as this process sees them (empty when it does not integrate). */
  witnessStatus(): WitnessStatus[] {
    return this.#witnessing?.status() ?? [];
  }

  /** Sequences one entry; resolves once it is durable. */
  add(data: Uint8Array, opts: { dedup?: boolean } = {}): Promise<SequencedResult> {
    return this.#sequencer.add(data, opts).then((r) => {
      this.#integrator?.nudge();
      return r;
    });
  }

  /** Sequences several entries; resolves once all are durable. */
  addBatch(
    entries: readonly Uint8Array[],
    opts: { dedup?: boolean } = {},
  ): Promise<SequencedResult[]> {
    return this.#sequencer.addBatch(entries, opts).then((r) => {
      this.#integrator?.nudge();
      return r;
    });
  }

  /**
   * The latest published checkpoint (with its cosignatures), verified with
   * the log's key: what `/checkpoint` serves and receipts are made against.
   */
  async latest(): Promise<SignedCheckpoint> {
    const published = await this.storage.readPublished();
    if (published === null) throw new LogError('NOT_INITIALISED', 'the log has no checkpoint');
    if (this.#cached?.note !== published.checkpoint) {
      const checkpoint = this.#openStored(published.checkpoint);
      // Never go backwards, even if a stale read reaches us.
      if (this.#cached === undefined || checkpoint.size >= this.#cached.checkpoint.size) {
        this.#cached = { note: published.checkpoint, checkpoint };
        this.metrics.observeCheckpoint(checkpoint.size);
      }
    }
    return this.#cached;
  }

  /**
   * The latest signed checkpoint: the integrated tree, possibly ahead of the
   * published one while witnesses have not cosigned it. Not for clients.
   */
  async latestSigned(): Promise<SignedCheckpoint> {
    const state = await this.storage.readState();
    if (state === null) throw new LogError('NOT_INITIALISED', 'the log has no checkpoint');
    return { note: state.checkpoint, checkpoint: this.#openStored(state.checkpoint) };
  }

  #openStored(note: string): Checkpoint {
    try {
      return openCheckpoint(note, [this.#verifier], { origin: this.origin }).checkpoint;
    } catch (cause) {
      throw new LogError('STORAGE_CORRUPT', 'the stored checkpoint does not verify', {
        cause,
        evidence: { checkpoint: note },
      });
    }
  }

  /** A stored tile or entry bundle by its tlog-tiles path, or null. */
  readTile(path: string): Promise<Uint8Array | null> {
    return this.storage.readTile(path);
  }

  /** RFC 9162 §2.1.3.1 inclusion proof of `index` in the tree of `size` (≤ the latest checkpoint). */
  async inclusionProof(index: bigint, size: bigint): Promise<Uint8Array[]> {
    const latest = await this.latest();
    this.#checkSize(size, latest);
    if (index < 0n || index >= size) {
      throw new LogError('INDEX_OUT_OF_RANGE', `index ${index} is not below size ${size}`, {
        evidence: { index: index.toString(), size: size.toString() },
      });
    }
    const tiles = await this.#fetchTiles(tilesForInclusion(index, size), latest.checkpoint.size);
    return inclusionProof(index, size, tileHashReader(size, tiles));
  }

  /** RFC 9162 §2.1.4.1 consistency proof between two sizes (0 < old ≤ new ≤ latest). */
  async consistencyProof(oldSize: bigint, newSize: bigint): Promise<Uint8Array[]> {
    const latest = await this.latest();
    this.#checkSize(newSize, latest);
    if (oldSize <= 0n || oldSize > newSize) {
      throw new LogError('SIZE_OUT_OF_RANGE', 'need 0 < old <= new', {
        evidence: { old: oldSize.toString(), new: newSize.toString() },
      });
    }
    const tiles = await this.#fetchTiles(
      tilesForConsistency(oldSize, newSize),
      latest.checkpoint.size,
    );
    return consistencyProof(oldSize, newSize, tileHashReader(newSize, tiles));
  }

  /** A c2sp.org/tlog-proof@v1 receipt for `index` against `at` (default: the latest checkpoint). */
  async receipt(index: bigint, at?: SignedCheckpoint): Promise<string> {
    const cp = at ?? (await this.latest());
    if (index < 0n || index >= cp.checkpoint.size) {
      throw new LogError('INDEX_OUT_OF_RANGE', `index ${index} is not in the checkpoint`, {
        evidence: { index: index.toString(), size: cp.checkpoint.size.toString() },
      });
    }
    const proof = await this.inclusionProof(index, cp.checkpoint.size);
    return formatTlogProof({ index, proof, checkpoint: cp.note });
  }

  /**
   * Resolves with the first checkpoint whose tree contains `index`. Polls the
   * stored state, so it works on a frontend that does not integrate.
   */
  waitForCheckpoint(index: bigint, timeoutMs = 30_000): Promise<SignedCheckpoint> {
    if (this.#closed) return Promise.reject(new LogError('CLOSED', 'the log is closed'));
    return new Promise<SignedCheckpoint>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(
          new LogError('WAIT_TIMEOUT', `no checkpoint covered index ${index} in ${timeoutMs} ms`, {
            evidence: { index: index.toString() },
          }),
        );
      }, timeoutMs);
      const waiter = {
        index,
        resolve: (c: SignedCheckpoint) => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (e: unknown) => {
          clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      };
      this.#waiters.push(waiter);
      this.#poll();
    });
  }

  #poll(): void {
    if (this.#pollTimer !== undefined) clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    if (this.#waiters.length === 0) return;
    this.latest().then(
      (cp) => {
        const ready = this.#waiters.filter((w) => w.index < cp.checkpoint.size);
        this.#waiters = this.#waiters.filter((w) => w.index >= cp.checkpoint.size);
        for (const w of ready) w.resolve(cp);
        this.#schedulePoll();
      },
      () => {
        // Transient storage trouble: keep waiting until the waiters time out.
        this.#schedulePoll();
      },
    );
  }

  #schedulePoll(): void {
    if (this.#waiters.length === 0 || this.#closed || this.#pollTimer !== undefined) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      this.#poll();
    }, this.#pollMs);
  }

  #checkSize(size: bigint, latest: SignedCheckpoint): void {
    if (size <= 0n || size > latest.checkpoint.size) {
      throw new LogError(
        'SIZE_OUT_OF_RANGE',
        `size ${size} is not in 1..${latest.checkpoint.size}`,
        {
          evidence: { size: size.toString(), checkpointSize: latest.checkpoint.size.toString() },
        },
      );
    }
  }

  /** Hash tiles for a proof at some size up to the published one (`proofs.ts`). */
  #fetchTiles(refs: readonly TileRef[], latestSize: bigint): Promise<Map<string, Uint8Array>> {
    return readProofTiles(this.storage, refs, latestSize);
  }

  /**
   * Graceful stop: no new adds, everything queued is sequenced, the
   * integrator finishes its round and releases the lease, waiters fail.
   * The storage stays open (its owner closes it).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sequencer.close();
    // Witness requests still running are cut off first, so the last round ends promptly;
    // whatever it could not publish is offered again on the next start.
    await this.#witnessing?.close();
    await this.#integrator?.stop();
    if (this.#pollTimer !== undefined) clearTimeout(this.#pollTimer);
    for (const w of this.#waiters.splice(0)) w.reject(new LogError('CLOSED', 'the log closed'));
  }
}
