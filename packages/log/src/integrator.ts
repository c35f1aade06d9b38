// Over 500 lines: one integration round (read, hash, write tiles, sign, publish) kept in one place for the crash reasoning.
import {
  type Checkpoint,
  CompactRange,
  type NoteSignerKey,
  type NoteVerifierKey,
  TILE_HEIGHT,
  TILE_WIDTH,
  type TileRef,
  bytesEqual,
  consistencyProof,
  encodeBase64,
  encodeBundle,
  formatCheckpoint,
  hashLeaf,
  openCheckpoint,
  signNote,
  tileHashReader,
  tileNodeIds,
  tilePath,
  tileWidthAt,
  tilesForConsistency,
  tilesToWrite,
  verifyConsistency,
} from '@glasshouse/tlog';
import { LogError } from './errors.js';
import type { LogMetrics } from './metrics.js';
import type {
  IntegratedState,
  IntegratorLease,
  LogStorage,
  PublishedCheckpoint,
  TileWrite,
} from './storage.js';

const HASH_SIZE = 32;
const MAX_BACKOFF_MS = 5_000;

/**
 * The step from the latest signed (and already stored) checkpoint to the
 * published one. Given the signed note and the note published so far, it
 * resolves to the note to publish: the same checkpoint, with cosignatures
 * appended (witnessing, `witnessing.ts`), or unchanged (a log without
 * witnesses). It throws to publish nothing this time; the integrator keeps
 * integrating and calls it again later with whatever was signed by then.
 * It never signs: only the integrator signs, and only from the stored state.
 */
export type PublishCheckpoint = (signedNote: string, previousNote: string) => Promise<string>;

/** Publishes every signed checkpoint as it is: a log without witnesses. */
export const publishUnchanged: PublishCheckpoint = (signedNote) => Promise.resolve(signedNote);

export interface IntegratorOptions {
  readonly storage: LogStorage;
  readonly signer: NoteSignerKey;
  readonly verifier: NoteVerifierKey;
  /**
   * Time from the start of one round to the start of the next when there is
   * no backlog (a round that took longer is followed at once; with a backlog
   * the next round starts at once). Default 250 ms.
   */
  readonly intervalMs?: number;
  /** Most entries integrated into one checkpoint. Default 4,096. */
  readonly maxEntriesPerRound?: number;
  /** From signed to published; default {@link publishUnchanged}. */
  readonly publish?: PublishCheckpoint;
  /**
   * Whether a published note is complete. A witnessing log answers false for
   * a note that lacks the quorum (the empty tree, published unwitnessed when
   * the log was created), so the same checkpoint is offered to the witnesses
   * and republished with their cosignatures. Default: always complete.
   */
  readonly isPublishComplete?: (publishedNote: string) => boolean;
  /** Longest pause between publishing attempts after failures. Default 5 s. */
  readonly publishRetryMaxMs?: number;
  readonly metrics?: LogMetrics;
  /**
   * Called with every failed round and every failed publishing attempt; the
   * loop keeps going (fail closed: neither state moves).
   */
  readonly onError?: (err: unknown) => void;
  /** Called after each stored (signed) checkpoint. */
  readonly onCheckpoint?: (state: IntegratedState) => void;
  /** Called after each published checkpoint. */
  readonly onPublished?: (published: PublishedCheckpoint) => void;
}

/** What one round did. */
export interface RoundResult {
  readonly state: IntegratedState;
  /** Entries integrated in this round (0: nothing to do). */
  readonly integrated: number;
  /** True when sequenced entries are still waiting. */
  readonly backlog: boolean;
}

/** What one publishing step did. */
export type PublishResult =
  | { readonly kind: 'up-to-date'; readonly published: PublishedCheckpoint }
  | { readonly kind: 'published'; readonly published: PublishedCheckpoint }
  | { readonly kind: 'failed'; readonly published: PublishedCheckpoint; readonly error: unknown }
  /** A previous attempt failed; the next one is not due yet. */
  | { readonly kind: 'backing-off'; readonly published: PublishedCheckpoint };

/**
 * Turns sequenced entries into tiles, bundles and signed checkpoints, and
 * publishes signed checkpoints (through {@link PublishCheckpoint}). Only the
 * holder of the storage's integrator lease runs rounds; each round is safe
 * to crash anywhere: tiles are idempotent and both the signed state and the
 * published checkpoint only move by compare-and-swap.
 *
 * Signing and publishing are two steps on purpose. A checkpoint is stored
 * as the signed state *before* anyone outside this process sees it, so the
 * next round always extends (and checks consistency against) the last
 * checkpoint that was ever shown to a witness. Publishing only appends
 * cosignatures to a stored signed note; when witnesses do not answer, the
 * tree keeps growing under new signed checkpoints, and the newest one is
 * offered again until a quorum cosigns it.
 */
export class Integrator {
  readonly #o: IntegratorOptions;
  readonly #intervalMs: number;
  readonly #maxEntries: number;
  readonly #publish: PublishCheckpoint;
  readonly #publishRetryMaxMs: number;
  #publishFailures = 0;
  #publishNotBefore = 0;
  #lease: IntegratorLease | null = null;
  #running: Promise<void> | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;
  /** New entries were sequenced since the current round began: the next round starts at once. */
  #nudged = false;

  constructor(opts: IntegratorOptions) {
    this.#o = opts;
    this.#intervalMs = opts.intervalMs ?? 250;
    this.#maxEntries = opts.maxEntriesPerRound ?? 4096;
    this.#publish = opts.publish ?? publishUnchanged;
    this.#publishRetryMaxMs = opts.publishRetryMaxMs ?? MAX_BACKOFF_MS;
    if (!Number.isSafeInteger(this.#maxEntries) || this.#maxEntries < 1) {
      throw new LogError('BAD_REQUEST', 'maxEntriesPerRound must be a positive integer');
    }
  }

  /** Whether this integrator currently holds the lease. */
  get leading(): boolean {
    return this.#lease?.isHeld() ?? false;
  }

  /** True once stop() was called. */
  get stopping(): boolean {
    return this.#stopped;
  }

  start(): void {
    if (this.#running !== undefined) return;
    this.#stopped = false;
    this.#running = this.#loop();
  }

  /**
   * Entries were just sequenced in this process: start the next round now
   * instead of at the end of the interval (the interval still paces an idle
   * log and picks up entries other frontends sequenced). Under load a round
   * takes everything sequenced while the previous one ran, so rounds batch
   * themselves without a fixed delay.
   */
  nudge(): void {
    this.#nudged = true;
    this.#wake?.();
  }

  /** Ends the loop after the current round and releases the lease. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#running;
    this.#running = undefined;
    const lease = this.#lease;
    this.#lease = null;
    await lease?.release();
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      let backlog = false;
      this.#nudged = false;
      const started = performance.now();
      try {
        backlog = await this.runOnce();
        failures = 0;
      } catch (err) {
        failures++;
        this.#o.metrics?.integrationErrors.inc();
        this.#o.onError?.(err);
      }
      // A failing round is retried, backing off up to MAX_BACKOFF_MS so that
      // a stuck log does not redo (and allocate) a full round every interval.
      // After a good round the interval counts from the round's start, so a
      // slow round is not followed by a full pause; with a backlog, no pause.
      const pause =
        failures === 0
          ? Math.max(0, this.#intervalMs - (performance.now() - started))
          : Math.min(MAX_BACKOFF_MS, this.#intervalMs * 2 ** Math.min(failures, 10));
      // stop() may have run during the round.
      if ((!backlog || failures > 0) && !this.stopping) {
        // Even a zero pause yields to the event loop: a macrotask turn, so
        // an idle log's loop never spins through rounds back to back.
        await this.#sleep(this.#wasNudged() && failures === 0 ? 0 : pause);
      }
    }
  }

  /** Whether `nudge()` ran since the round began (a method: the round's awaits may set it). */
  #wasNudged(): boolean {
    return this.#nudged;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let t: NodeJS.Timeout | undefined = undefined;
      const done = (): void => {
        clearTimeout(t);
        this.#wake = undefined;
        resolve();
      };
      t = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /**
   * Takes the lease if free, integrates one round, then publishes the
   * latest signed checkpoint if it is not published yet. Returns whether a
   * backlog remains. Publishing failures go to `onError`, never thrown: a
   * log whose witnesses are away keeps integrating.
   */
  async runOnce(): Promise<boolean> {
    if (this.#lease?.isHeld() !== true) {
      this.#lease = await this.#o.storage.tryAcquireIntegratorLease();
      if (this.#lease === null) return false;
    }
    const result = await this.integrateRound(this.#lease);
    const published = await this.publishRound(this.#lease);
    if (published?.kind === 'failed') this.#o.onError?.(published.error);
    return result?.backlog ?? false;
  }

  /**
   * Publishes the latest signed checkpoint under `lease` unless it is
   * published already. After a failure, attempts back off (doubling, up to
   * `publishRetryMaxMs`) unless `force`. Resolves to null when the log is not
   * initialised; throws only when the lease is lost.
   */
  async publishRound(lease: IntegratorLease, force = false): Promise<PublishResult | null> {
    const { storage } = this.#o;
    const [state, published] = await Promise.all([storage.readState(), storage.readPublished()]);
    if (state === null || published === null) return null;
    const complete = this.#o.isPublishComplete?.(published.checkpoint) ?? true;
    if (published.size >= state.size && complete) return { kind: 'up-to-date', published };
    if (!force && performance.now() < this.#publishNotBefore) {
      return { kind: 'backing-off', published };
    }
    try {
      const note = await this.#publish(state.checkpoint, published.checkpoint);
      this.#checkPublishable(note, state);
      this.#checkLease(lease);
      const next: PublishedCheckpoint = { size: state.size, checkpoint: note };
      if (!(await storage.casPublished(published.size, next))) {
        throw new LogError('STATE_CONFLICT', 'the published checkpoint moved; not stored', {
          evidence: { expectedSize: published.size.toString(), size: state.size.toString() },
        });
      }
      this.#publishFailures = 0;
      this.#publishNotBefore = 0;
      this.#o.metrics?.checkpointsPublished.inc();
      this.#o.onPublished?.(next);
      return { kind: 'published', published: next };
    } catch (error) {
      if (error instanceof LogError && error.code === 'LEASE_LOST') throw error;
      this.#publishFailures++;
      this.#o.metrics?.publishFailures.inc();
      const pause = Math.min(
        this.#publishRetryMaxMs,
        this.#intervalMs * 2 ** Math.min(this.#publishFailures, 10),
      );
      this.#publishNotBefore = performance.now() + pause;
      return { kind: 'failed', published, error };
    }
  }

  /** What is published must be the stored signed checkpoint, still signed by this log. */
  #checkPublishable(note: string, state: IntegratedState): void {
    let same = false;
    try {
      const published = openCheckpoint(note, [this.#o.verifier], { origin: this.#o.signer.name });
      const signed = openCheckpoint(state.checkpoint, [this.#o.verifier]);
      same = published.note.text === signed.note.text;
    } catch (cause) {
      throw new LogError('PUBLISH_INVALID', 'the note to publish does not verify', {
        cause,
        evidence: { signed: state.checkpoint, toPublish: note },
      });
    }
    if (!same) {
      throw new LogError('PUBLISH_INVALID', 'the note to publish is not the signed checkpoint', {
        evidence: { signed: state.checkpoint, toPublish: note },
      });
    }
  }

  /**
   * One round under `lease`: integrate up to maxEntriesPerRound new entries.
   * Resolves to null when the log is not initialised.
   */
  async integrateRound(lease: IntegratorLease): Promise<RoundResult | null> {
    const { storage } = this.#o;
    const started = performance.now();
    const state = await storage.readState();
    if (state === null) {
      throw new LogError('NOT_INITIALISED', 'the log has no checkpoint yet; run init first');
    }
    const sequenced = await storage.sequencedSize();
    if (sequenced <= state.size) return { state, integrated: 0, backlog: false };

    const old = this.#openOwn(state);
    const oldSize = state.size;
    const range = this.#restore(state, old);

    // Bundles are rewritten from their first entry, so read from there.
    const width = BigInt(TILE_WIDTH);
    const bundleStart = (oldSize / width) * width;
    const want = Number(
      minBig(sequenced - oldSize, BigInt(this.#maxEntries)) + (oldSize - bundleStart),
    );
    const entries = await storage.readEntries(bundleStart, want);
    entries.forEach((e, i) => {
      // Storage hands back what it was given; check anyway before signing over it.
      if (e.index !== bundleStart + BigInt(i) || !bytesEqual(hashLeaf(e.data), e.leafHash)) {
        throw new LogError('STORAGE_CORRUPT', `entry ${e.index} does not match its leaf hash`, {
          evidence: { index: e.index.toString(), position: i },
        });
      }
    });
    const newSize = bundleStart + BigInt(entries.length);
    if (newSize <= oldSize) {
      throw new LogError('STORAGE_CORRUPT', 'sequenced entries are missing', {
        evidence: { from: oldSize.toString(), sequenced: sequenced.toString() },
      });
    }

    // Nodes completed by the new leaves, at tile levels only (0, 8, 16, …).
    const fresh = new Map<string, Uint8Array>();
    for (const e of entries.slice(Number(oldSize - bundleStart))) {
      for (const node of range.append(e.leafHash)) {
        if (node.level % TILE_HEIGHT === 0) fresh.set(`${node.level}/${node.index}`, node.hash);
      }
    }
    const newRoot = range.root();

    const tiles = await this.#buildTiles(oldSize, newSize, fresh, entries, bundleStart);
    this.#checkLease(lease);
    await storage.writeTiles(tiles);

    const next: Checkpoint = {
      origin: old.origin,
      size: newSize,
      rootHash: newRoot,
      extensions: [],
    };
    const nextText = formatCheckpoint(next);
    await this.#checkConsistency(old, state.checkpoint, next, nextText, tiles);

    // Stored before anyone sees it: witnesses are shown only stored checkpoints.
    const signed = signNote(nextText, [this.#o.signer]);
    const nextState: IntegratedState = {
      size: newSize,
      checkpoint: signed,
      compactHashes: range.state().hashes,
    };
    this.#checkLease(lease);
    if (!(await storage.casState(oldSize, nextState))) {
      throw new LogError('STATE_CONFLICT', 'the state moved during integration; not stored', {
        evidence: { expectedSize: oldSize.toString(), size: newSize.toString() },
      });
    }
    this.#o.metrics?.checkpointsSigned.inc();
    this.#o.metrics?.integrationLatency.observe((performance.now() - started) / 1000);
    this.#o.metrics?.signedSize.set(Number(newSize));
    this.#o.onCheckpoint?.(nextState);
    return {
      state: nextState,
      integrated: Number(newSize - oldSize),
      backlog: sequenced > newSize,
    };
  }

  #openOwn(state: IntegratedState): Checkpoint {
    let checkpoint: Checkpoint;
    try {
      ({ checkpoint } = openCheckpoint(state.checkpoint, [this.#o.verifier], {
        origin: this.#o.signer.name,
      }));
    } catch (cause) {
      throw new LogError('STORAGE_CORRUPT', 'the stored checkpoint is not signed by this log', {
        cause,
        evidence: { checkpoint: state.checkpoint },
      });
    }
    if (checkpoint.size !== state.size) {
      throw new LogError('STORAGE_CORRUPT', 'the stored checkpoint and state disagree on size', {
        evidence: { checkpoint: state.checkpoint, size: state.size.toString() },
      });
    }
    return checkpoint;
  }

  /** The compact range of the stored state; its root must be the signed root. */
  #restore(state: IntegratedState, old: Checkpoint): CompactRange {
    let range: CompactRange;
    try {
      range = new CompactRange({ size: state.size, hashes: state.compactHashes });
    } catch (cause) {
      throw new LogError('STORAGE_CORRUPT', 'the stored compact range is invalid', {
        cause,
        evidence: { checkpoint: state.checkpoint },
      });
    }
    const root = range.root();
    // RFC 9162 §2.1.1: the range must hash to the root the log already signed.
    if (!bytesEqual(root, old.rootHash)) {
      throw new LogError('TREE_INCONSISTENT', 'the stored range does not match the signed root', {
        evidence: { oldCheckpoint: state.checkpoint, rangeRoot: encodeBase64(root) },
      });
    }
    return range;
  }

  async #buildTiles(
    oldSize: bigint,
    newSize: bigint,
    fresh: ReadonlyMap<string, Uint8Array>,
    entries: readonly { data: Uint8Array }[],
    bundleStart: bigint,
  ): Promise<TileWrite[]> {
    const out: TileWrite[] = [];
    for (const ref of tilesToWrite(oldSize, newSize)) {
      if (ref.kind === 'entries') {
        // c2sp.org/tlog-tiles: a bundle holds the entries of the level-0 tile.
        const from = Number(ref.index * BigInt(TILE_WIDTH) - bundleStart);
        const data = encodeBundle(entries.slice(from, from + ref.width).map((e) => e.data));
        out.push({ path: tilePath(ref), data });
        continue;
      }
      out.push({ path: tilePath(ref), data: await this.#hashTile(ref, oldSize, fresh) });
    }
    return out;
  }

  /** A hash tile at its new width: hashes it already had (from the old partial tile) plus new ones. */
  async #hashTile(
    ref: TileRef & { kind: 'hash' },
    oldSize: bigint,
    fresh: ReadonlyMap<string, Uint8Array>,
  ): Promise<Uint8Array> {
    const data = new Uint8Array(ref.width * HASH_SIZE);
    const oldWidth = tileWidthAt(ref.level, ref.index, oldSize);
    if (oldWidth > 0) {
      const oldRef: TileRef = { kind: 'hash', level: ref.level, index: ref.index, width: oldWidth };
      const path = tilePath(oldRef);
      const prev = await this.#o.storage.readTile(path);
      if (prev?.length !== oldWidth * HASH_SIZE) {
        throw new LogError('STORAGE_CORRUPT', `tile ${path} of the last checkpoint is missing`, {
          evidence: { path, length: prev?.length ?? null },
        });
      }
      data.set(prev, 0);
    }
    tileNodeIds(ref).forEach((node, i) => {
      if (i < oldWidth) return;
      const hash = fresh.get(`${node.level}/${node.index}`);
      if (hash === undefined) {
        throw new LogError('STORAGE_CORRUPT', 'a tile node was not completed by the new leaves', {
          evidence: { level: node.level, index: node.index.toString() },
        });
      }
      data.set(hash, i * HASH_SIZE);
    });
    return data;
  }

  /**
   * RFC 9162 §2.1.4: before signing, prove from the stored tiles that the
   * new tree extends the last signed one. A failure means a bug or corrupt
   * storage; nothing is signed.
   */
  async #checkConsistency(
    old: Checkpoint,
    oldNote: string,
    next: Checkpoint,
    nextText: string,
    written: readonly TileWrite[],
  ): Promise<void> {
    if (old.size === 0n) return; // every tree extends the empty tree
    try {
      const tiles = new Map(written.map((t) => [t.path, t.data]));
      for (const ref of tilesForConsistency(old.size, next.size)) {
        const path = tilePath(ref);
        if (tiles.has(path)) continue;
        const data = await this.#o.storage.readTile(path);
        if (data !== null) tiles.set(path, data);
      }
      const proof = await consistencyProof(old.size, next.size, tileHashReader(next.size, tiles));
      verifyConsistency(old.size, next.size, proof, old.rootHash, next.rootHash);
    } catch (cause) {
      throw new LogError(
        'TREE_INCONSISTENT',
        'refusing to sign: the new tree does not extend the last checkpoint',
        {
          cause,
          evidence: { oldCheckpoint: oldNote, newCheckpoint: nextText },
        },
      );
    }
  }

  #checkLease(lease: IntegratorLease): void {
    if (!lease.isHeld()) {
      throw new LogError('LEASE_LOST', 'the integrator lease was lost; stopping this round');
    }
  }
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
