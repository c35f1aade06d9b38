/**
 * The monitor: tails a tiled log from its last verified state and checks
 * everything a third party can check.
 *
 * One run, in order (each step fails closed: an alert, and the previous
 * verified state stays):
 *
 *  1. fetch `/checkpoint`; verify the log's signature (c2sp.org/signed-note,
 *     tlog-checkpoint) and, with a policy, the witness quorum
 *     (c2sp.org/tlog-policy)                         → checkpoint-signature, quorum
 *  2. compare with the previous verified checkpoint: smaller → rollback;
 *     same size, other root → split-view; larger → consistency proof built
 *     from tiles (RFC 9162 §2.1.4)                    → rollback, split-view,
 *                                                       inconsistent-checkpoint
 *  3. fetch every new entry bundle and its level-0 tile, bundle by bundle;
 *     recompute leaf hashes (RFC 9162 §2.1.1) and require the tile to hold
 *     them; entries already verified must be unchanged; every hash tile above
 *     is compared with the subtree hashes recomputed from the entries
 *                                                     → tiles-mismatch
 *  4. hand each new entry to the entry checker        → entry-rejected
 *  5. require the recomputed root to equal the checkpoint's root
 *                                                     → root-mismatch
 *  6. publish the staged tiles and the checkpoint in the mirror
 *                                                     → mirror-conflict
 *  7. only then persist the new state.
 *
 * Transient fetch failures: the fetcher retries network errors, timeouts,
 * 5xx and 429 with backoff inside a run. If the log is still unreadable,
 * `runOnce` reports a `fetch-failed` alert (a one-shot check that could not
 * check must not pass). `run` tolerates an outage for `fetchFailureGraceMs`
 * (default 5 minutes), retrying at every interval, and raises one
 * `fetch-failed` alert when it lasts longer: a log that stays unreadable to
 * its monitors can hide what it serves to others.
 */
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  CompactRange,
  type CompletedNode,
  type Checkpoint,
  Frontier,
  HASH_SIZE,
  type NoteVerifierKey,
  type Policy,
  TILE_HEIGHT,
  TILE_WIDTH,
  TlogError,
  bytesEqual,
  consistencyProof,
  emptyRoot,
  encodeBase64,
  hashEntries,
  openCheckpoint,
  parsePolicy,
  parseVerifierKey,
  subtreeRoot,
  tileHashReader,
  tilePath,
  tileWidthAt,
  tilesForConsistency,
  verifyCheckpointWithPolicy,
  verifyConsistency,
} from '@glasshouse/tlog';
import type { Alert, AlertKind, AlertSink } from './alerts.js';
import type { EntryChecker } from './checker.js';
import type { MirrorStore } from './mirror.js';
import type { MonitorState, MonitorStateStore } from './monitor-state.js';
import { WitnessError } from './errors.js';
import { type FetchedBundle, type FetchedTile, TilesFetcher } from './tiles-fetch.js';

export interface MonitorOptions {
  /** The log's tlog-tiles prefix. */
  readonly url: string;
  /** The log's verifier key (its name is the origin). Required unless a policy lists the log. */
  readonly logVerifier?: string | NoteVerifierKey;
  /** A c2sp.org/tlog-policy: checkpoints must also meet its witness quorum. */
  readonly policy?: string | Policy;
  readonly state: MonitorStateStore;
  readonly mirror?: MirrorStore;
  readonly checker?: EntryChecker;
  readonly alerts: AlertSink;
  /** Replaces the tiles fetcher's built-in node:http(s) transport; it must decode gzip. */
  readonly fetch?: typeof fetch;
  /** Fetcher tuning: per-attempt timeout and retries. */
  readonly timeoutMs?: number;
  readonly retries?: number;
  readonly backoffMs?: number;
  /** Bundles fetched ahead of the one being verified. Default 6. */
  readonly prefetch?: number;
  /** Clock for alert times and cosignature timestamps. */
  readonly now?: () => Date;
  /** Seconds a cosignature may lie in the future. Default 60. */
  readonly maxFutureSkewSeconds?: number;
  /** Content alerts (tile mismatches, rejected entries) reported per run before summarising. Default 20. */
  readonly maxAlertsPerRun?: number;
  /** `run`: time between runs. Default 30 s. */
  readonly intervalMs?: number;
  /** `run`: how long the log may stay unreadable before `fetch-failed` is raised. Default 5 min. */
  readonly fetchFailureGraceMs?: number;
  readonly onProgress?: (event: MonitorProgress) => void;
}

export type MonitorProgress =
  | { readonly phase: 'checkpoint'; readonly oldSize: bigint; readonly newSize: bigint }
  | {
      readonly phase: 'entries';
      readonly size: bigint;
      readonly newSize: bigint;
      readonly entriesPerSecond: number;
    }
  | {
      readonly phase: 'done';
      readonly outcome: RunOutcome;
      readonly size: bigint;
      readonly entries: bigint;
      readonly ms: number;
    }
  /** `run`: the log could not be read; it is tried again at the next interval. */
  | { readonly phase: 'fetch-retry'; readonly message: string };

export type RunOutcome = 'up-to-date' | 'advanced' | 'alert';

export interface RunResult {
  readonly outcome: RunOutcome;
  /** Verified size before and after the run. */
  readonly oldSize: bigint;
  readonly size: bigint;
  /** Entries verified in this run. */
  readonly entries: bigint;
  readonly alerts: readonly Alert[];
}

export interface Monitor {
  /** One check; alerts go to the sink, and are also returned. */
  runOnce(signal?: AbortSignal): Promise<RunResult>;
  /** Checks every `intervalMs` until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
}

/** Raised inside a run; ends it with an alert. */
class AlertRaised extends Error {
  constructor(readonly alert: Alert) {
    super(alert.message);
  }
}

const WIDTH = BigInt(TILE_WIDTH);

export function createMonitor(opts: MonitorOptions): Monitor {
  const verifier =
    typeof opts.logVerifier === 'string' ? parseVerifierKey(opts.logVerifier) : opts.logVerifier;
  const policy = typeof opts.policy === 'string' ? parsePolicy(opts.policy) : opts.policy;
  if (verifier === undefined && (policy === undefined || policy.logs.length === 0)) {
    throw new WitnessError(
      'MONITOR_CONFIG_INVALID',
      "a monitor needs the log's verifier key or a policy listing the log",
    );
  }
  const fetcher = new TilesFetcher({
    url: opts.url,
    ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    ...(opts.retries === undefined ? {} : { retries: opts.retries }),
    ...(opts.backoffMs === undefined ? {} : { backoffMs: opts.backoffMs }),
  });
  // The vkey counts as a policy log unless the policy already lists it.
  const extraLogs =
    verifier === undefined ||
    (policy?.logs.some(
      (l) => l.verifier.name === verifier.name && l.verifier.keyId === verifier.keyId,
    ) ??
      false)
      ? []
      : [verifier];
  const now = opts.now ?? ((): Date => new Date());
  const maxAlerts = opts.maxAlertsPerRun ?? 20;
  const prefetch = Math.max(1, opts.prefetch ?? 6);
  const progress = opts.onProgress ?? ((): void => undefined);

  const alert = (
    kind: AlertKind,
    message: string,
    evidence: Record<string, unknown>,
    extra: { origin?: string | undefined; code?: string | undefined } = {},
  ): Alert => ({
    kind,
    time: now().toISOString(),
    log: fetcher.url,
    ...(extra.origin === undefined ? {} : { origin: extra.origin }),
    message,
    ...(extra.code === undefined ? {} : { code: extra.code }),
    evidence,
  });

  const fetchFailed = (err: unknown, what: string, origin?: string): AlertRaised => {
    if (err instanceof WitnessError && err.code === 'TILE_MALFORMED') {
      return new AlertRaised(
        alert(
          'tiles-mismatch',
          `the log served a malformed ${what}: ${err.message}`,
          {
            ...err.evidence,
          },
          { origin, code: err.code },
        ),
      );
    }
    if (err instanceof WitnessError) {
      return new AlertRaised(
        alert(
          'fetch-failed',
          `cannot fetch the ${what}: ${err.message}`,
          { ...err.evidence },
          {
            origin,
            code: err.code,
          },
        ),
      );
    }
    throw err;
  };

  /** Step 1: the signature, and the quorum with a policy. */
  const verifyNote = (note: Uint8Array, origin: string | undefined): Checkpoint => {
    const text = new TextDecoder('utf-8', { fatal: false }).decode(note);
    try {
      if (policy !== undefined) {
        const v = verifyCheckpointWithPolicy(note, policy, {
          extraLogs: extraLogs,
          now: BigInt(Math.floor(now().getTime() / 1000)),
          maxFutureSkew: BigInt(opts.maxFutureSkewSeconds ?? 60),
        });
        const want = origin ?? verifier?.name;
        if (want !== undefined && v.checkpoint.origin !== want) {
          throw new TlogError('CHECKPOINT_ORIGIN_MISMATCH', 'checkpoint is from another log', {
            evidence: { origin: v.checkpoint.origin, expected: want },
          });
        }
        return v.checkpoint;
      }
      // c2sp.org/tlog-policy: a log's key name is its origin.
      const v = verifier as NoteVerifierKey;
      return openCheckpoint(note, [v], { origin: v.name }).checkpoint;
    } catch (err) {
      if (!(err instanceof TlogError)) throw err;
      const quorum = err.code === 'POLICY_QUORUM_NOT_MET';
      throw new AlertRaised(
        alert(
          quorum ? 'quorum' : 'checkpoint-signature',
          quorum
            ? 'the checkpoint lacks the witness quorum the policy requires'
            : `the checkpoint does not verify: ${err.message}`,
          { checkpoint: text, error: { code: err.code, ...err.evidence } },
          { origin, code: err.code },
        ),
      );
    }
  };

  /** One run; content alerts are collected in `raised`, a fatal one is thrown as AlertRaised. */
  const check = async (signal: AbortSignal | undefined, raised: Alert[]): Promise<RunResult> => {
    const prev = await opts.state.load();
    const oldSize = prev?.size ?? 0n;
    const origin = prev?.origin;
    const result = (outcome: RunOutcome, size: bigint, entries = 0n): RunResult => ({
      outcome,
      oldSize,
      size,
      entries,
      alerts: raised,
    });

    let note: Uint8Array;
    try {
      note = await fetcher.checkpoint(signal);
    } catch (err) {
      throw fetchFailed(err, 'checkpoint', origin);
    }
    const cp = verifyNote(note, origin);
    const noteText = new TextDecoder().decode(note);
    if (prev !== null && cp.origin !== prev.origin) {
      throw new WitnessError(
        'MONITOR_STATE_MISMATCH',
        'the state directory belongs to another log',
        {
          evidence: { stateOrigin: prev.origin, origin: cp.origin },
        },
      );
    }
    progress({ phase: 'checkpoint', oldSize, newSize: cp.size });

    // Step 2: against the previous verified checkpoint.
    if (prev !== null) {
      const both = { previous: prev.checkpoint, checkpoint: noteText };
      if (cp.size < prev.size) {
        throw new AlertRaised(
          alert(
            'rollback',
            `the log went back from size ${prev.size} to ${cp.size}`,
            { ...both, previousSize: prev.size.toString(), size: cp.size.toString() },
            { origin: cp.origin },
          ),
        );
      }
      if (cp.size === prev.size) {
        if (bytesEqual(cp.rootHash, prev.root)) return result('up-to-date', prev.size);
        // c2sp.org/tlog-checkpoint: a log must never sign two checkpoints of one size with different roots.
        throw new AlertRaised(
          alert(
            'split-view',
            `the log signed two different trees of size ${cp.size}`,
            {
              ...both,
              size: cp.size.toString(),
              previousRoot: encodeBase64(prev.root),
              root: encodeBase64(cp.rootHash),
            },
            { origin: cp.origin },
          ),
        );
      }
      if (prev.size > 0n) await checkConsistency(prev, cp, noteText, signal);
    }

    const start = prev ?? {
      origin: cp.origin,
      checkpoint: '',
      size: 0n,
      root: emptyRoot(),
      compact: [],
      edge: [],
    };
    const state = await recompute(start, cp, noteText, signal, raised);
    if (raised.length > 0) {
      await opts.mirror?.discard();
      return result('alert', oldSize);
    }

    // Step 6, then 7: the mirror first, so the state never claims more than the mirror holds.
    if (opts.mirror !== undefined) {
      try {
        await opts.mirror.commit(noteText);
      } catch (err) {
        if (!(err instanceof WitnessError && err.code === 'MIRROR_CONFLICT')) throw err;
        throw new AlertRaised(
          alert(
            'mirror-conflict',
            'verified tiles differ from the mirrored ones',
            { checkpoint: noteText, ...err.evidence },
            { origin: cp.origin, code: 'MIRROR_CONFLICT' },
          ),
        );
      }
    }
    await opts.state.save(state);
    return result(
      prev !== null && cp.size === oldSize ? 'up-to-date' : 'advanced',
      cp.size,
      cp.size - (prev?.size ?? 0n),
    );
  };

  /** RFC 9162 §2.1.4.2, from the new tree's hash tiles. */
  const checkConsistency = async (
    prev: MonitorState,
    cp: Checkpoint,
    noteText: string,
    signal: AbortSignal | undefined,
  ): Promise<void> => {
    const tiles = new Map<string, Uint8Array>();
    try {
      await Promise.all(
        tilesForConsistency(prev.size, cp.size).map(async (ref) => {
          if (ref.kind !== 'hash') return;
          const t = await fetcher.hashTile(ref.level, ref.index, ref.width, signal);
          tiles.set(tilePath(ref), t.data);
        }),
      );
    } catch (err) {
      throw fetchFailed(err, 'consistency tiles', cp.origin);
    }
    let proof: Uint8Array[] = [];
    try {
      proof = await consistencyProof(prev.size, cp.size, tileHashReader(cp.size, tiles));
      verifyConsistency(prev.size, cp.size, proof, prev.root, cp.rootHash);
    } catch (err) {
      if (!(err instanceof TlogError)) throw err;
      throw new AlertRaised(
        alert(
          'inconsistent-checkpoint',
          `the tree of size ${cp.size} does not prove consistency with the verified size ${prev.size}`,
          {
            previous: prev.checkpoint,
            checkpoint: noteText,
            proof: proof.map(encodeBase64),
            error: { code: err.code, ...err.evidence },
          },
          { origin: cp.origin, code: err.code },
        ),
      );
    }
  };

  /** Steps 3–5: recompute the tree from `start.size` to the checkpoint, bundle by bundle. */
  const recompute = async (
    start: MonitorState,
    cp: Checkpoint,
    noteText: string,
    outer: AbortSignal | undefined,
    raised: Alert[],
  ): Promise<MonitorState> => {
    let suppressed = 0;
    const raise = (a: Alert): void => {
      if (raised.length >= maxAlerts) suppressed++;
      else raised.push(a);
    };
    // Stops the fetches still in flight when the run ends early.
    const stop = new AbortController();
    const signal = outer === undefined ? stop.signal : AbortSignal.any([outer, stop.signal]);
    // Every request in flight listens to it: two per prefetched bundle, and a few tiles.
    setMaxListeners(2 * prefetch + 16, signal);
    try {
      return await recomputeWith(signal);
    } finally {
      stop.abort();
    }

    async function recomputeWith(signal: AbortSignal): Promise<MonitorState> {
      const mismatch = (
        kind: AlertKind,
        message: string,
        evidence: Record<string, unknown>,
        code?: string,
      ): void => {
        raise(
          alert(kind, message, { checkpoint: noteText, ...evidence }, { origin: cp.origin, code }),
        );
      };

      const range = new Frontier(new CompactRange({ size: start.size, hashes: start.compact }));
      const edge: Uint8Array[][] = start.edge.map((level) => [...level]);
      const newSize = cp.size;
      const firstBundle = start.size / WIDTH;
      const endBundle = (newSize + WIDTH - 1n) / WIDTH;
      const began = Date.now();
      let lastReport = began;

      // Fetch ahead, so verification overlaps with the network.
      type Fetched = { bundle: FetchedBundle; tile: FetchedTile };
      const pending = new Map<
        bigint,
        Promise<{ ok: true; v: Fetched } | { ok: false; e: unknown }>
      >();
      const want = (n: bigint): void => {
        if (n >= endBundle || pending.has(n)) return;
        const width = tileWidthAt(0, n, newSize);
        pending.set(
          n,
          Promise.all([
            fetcher.entryBundle(n, width, signal),
            fetcher.hashTile(0, n, width, signal),
          ]).then(
            ([bundle, tile]) => ({ ok: true as const, v: { bundle, tile } }),
            (e: unknown) => ({ ok: false as const, e }),
          ),
        );
      };

      /** Compares a fetched hash tile with the recomputed hashes (laid out one after the other); true when equal. */
      const compareTile = (path: string, fetched: Uint8Array, expected: Uint8Array): boolean => {
        if (Buffer.compare(fetched, expected) === 0) return true;
        // Different: find the first differing hash for the evidence.
        for (let i = 0; i * HASH_SIZE < expected.length; i++) {
          const want = expected.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
          const got = fetched.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
          if (!bytesEqual(want, got)) {
            mismatch('tiles-mismatch', `${path} does not match the hashes of the entries`, {
              tile: path,
              position: i,
              expected: encodeBase64(want),
              actual: encodeBase64(got),
            });
            return false;
          }
        }
        // The fetcher guarantees the length; a tile of another length never equals.
        throw new Error(`${path}: ${fetched.length} bytes against ${expected.length}`);
      };

      /** A higher-level tile the run changed: fetch it and compare with the recomputed nodes. */
      const checkUpperTile = async (level: number, index: bigint, hashes: Uint8Array[]) => {
        let t: FetchedTile;
        try {
          t = await fetcher.hashTile(level, index, hashes.length, signal);
        } catch (err) {
          throw fetchFailed(
            err,
            `tile ${tilePath({ kind: 'hash', level, index, width: hashes.length })}`,
            cp.origin,
          );
        }
        if (compareTile(t.path, t.data, concat(hashes))) await opts.mirror?.stage(t.path, t.data);
      };

      const touched = new Set<number>();
      const onCompleted = async (nodes: readonly CompletedNode[]): Promise<void> => {
        for (const node of nodes) {
          // Tile level L holds the nodes of tree level 8·L (c2sp.org/tlog-tiles).
          if (node.level === 0 || node.level % TILE_HEIGHT !== 0) continue;
          const level = node.level / TILE_HEIGHT;
          while (edge.length <= level) edge.push([]);
          const row = edge[level] as Uint8Array[];
          if (BigInt(row.length) !== (node.index & (WIDTH - 1n))) {
            throw new WitnessError(
              'MONITOR_STATE_CORRUPT',
              'the stored tile edge does not fit the tree',
              {
                evidence: { level, index: node.index.toString(), have: row.length },
              },
            );
          }
          row.push(node.hash);
          touched.add(level);
          if (row.length === TILE_WIDTH) {
            await checkUpperTile(level, node.index / WIDTH, row);
            edge[level] = [];
            touched.delete(level);
          }
        }
      };

      for (let n = firstBundle; n < firstBundle + BigInt(prefetch); n++) want(n);
      for (let n = firstBundle; n < endBundle; n++) {
        want(n + BigInt(prefetch));
        const got = await (pending.get(n) as NonNullable<ReturnType<typeof pending.get>>);
        pending.delete(n);
        if (!got.ok) {
          // The fetches still in flight are aborted when recompute returns.
          throw fetchFailed(got.e, `entry bundle ${n}`, cp.origin);
        }
        const { bundle, tile } = got.v;
        const first = n * WIDTH;
        const width = bundle.starts.length;
        // RFC 9162 §2.1.1 leaf hashes of every entry, one after the other: the level-0 tile they must equal.
        const leaves = hashEntries(bundle);
        const leafAt = (i: number): Uint8Array =>
          leaves.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
        // Entries of this bundle verified by an earlier run must be unchanged.
        const known = start.size > first ? Number(start.size - first) : 0;
        const verified = edge[0] ?? [];
        if ((known > 0 && verified.length !== known) || range.size !== first + BigInt(known)) {
          throw new WitnessError(
            'MONITOR_STATE_CORRUPT',
            'the stored leaf edge does not fit the tree',
            {
              evidence: { size: start.size.toString(), have: verified.length },
            },
          );
        }
        let bundleOk = true;
        for (let i = 0; i < known; i++) {
          if (!bytesEqual(leafAt(i), verified[i] as Uint8Array)) {
            bundleOk = false;
            mismatch(
              'tiles-mismatch',
              `${bundle.path} rewrites entry ${first + BigInt(i)}, verified earlier`,
              {
                tile: bundle.path,
                index: (first + BigInt(i)).toString(),
                expected: encodeBase64(verified[i] as Uint8Array),
                actual: encodeBase64(leafAt(i)),
                entry: encodeBase64(bundle.entries[i] as Uint8Array),
              },
            );
            break;
          }
        }
        // The level-0 tile must hold exactly the entries' leaf hashes (RFC 9162 §2.1.1).
        const tileOk = compareTile(tile.path, tile.data, leaves);

        if (opts.checker !== undefined) {
          for (let i = known; i < width; i++) {
            const index = first + BigInt(i);
            const data = bundle.entries[i] as Uint8Array;
            try {
              const checked = opts.checker.check({ index, data });
              if (checked !== undefined) await checked;
            } catch (err) {
              const code = (err as { code?: unknown }).code;
              mismatch(
                'entry-rejected',
                `the entry checker rejected entry ${index}: ${err instanceof Error ? err.message : String(err)}`,
                {
                  index: index.toString(),
                  entry: encodeBase64(data),
                  leafHash: encodeBase64(leafAt(i)),
                  ...(err instanceof WitnessError || err instanceof TlogError
                    ? { error: { code: err.code, ...err.evidence } }
                    : {}),
                },
                typeof code === 'string' ? code : undefined,
              );
            }
          }
        }
        // Into the tree: a whole new bundle as its 256-leaf subtree, otherwise leaf by leaf.
        const completed: CompletedNode[] = [];
        if (known === 0 && width === TILE_WIDTH) {
          range.push(TILE_HEIGHT, subtreeRoot(leaves), completed);
        } else {
          for (let i = known; i < width; i++) range.push(0, leafAt(i), completed);
        }
        if (completed.length > 0) await onCompleted(completed);
        edge[0] = width === TILE_WIDTH ? [] : Array.from({ length: width }, (_, i) => leafAt(i));
        if (bundleOk && tileOk && opts.mirror !== undefined) {
          await opts.mirror.stage(bundle.path, bundle.data);
          await opts.mirror.stage(tile.path, tile.data);
        }
        const t = Date.now();
        if (t - lastReport >= 1000 || n === endBundle - 1n) {
          lastReport = t;
          const done = range.size - start.size;
          progress({
            phase: 'entries',
            size: range.size,
            newSize,
            entriesPerSecond: Number(done) / Math.max(0.001, (t - began) / 1000),
          });
        }
      }
      // Partial tiles above level 0 that grew in this run.
      for (const level of [...touched].sort((a, b) => a - b)) {
        const row = edge[level] as Uint8Array[];
        const count = newSize >> BigInt(TILE_HEIGHT * level);
        await checkUpperTile(level, count / WIDTH, row);
      }
      while (edge.length > 1 && (edge[edge.length - 1] as Uint8Array[]).length === 0) edge.pop();

      // Step 5: the root recomputed from the entries must be the signed one.
      const compact = range.compactRange();
      const root = compact.root();
      if (!bytesEqual(root, cp.rootHash)) {
        // Never suppressed: it is the verdict on the whole run.
        raised.push(
          alert(
            'root-mismatch',
            `the entries do not hash to the checkpoint's root`,
            {
              checkpoint: noteText,
              size: newSize.toString(),
              expected: encodeBase64(cp.rootHash),
              actual: encodeBase64(root),
            },
            { origin: cp.origin },
          ),
        );
      }
      if (suppressed > 0) {
        raised.push(
          alert(
            raised[0]?.kind ?? 'tiles-mismatch',
            `${suppressed} more alerts of this run were not reported`,
            { checkpoint: noteText, suppressed },
            { origin: cp.origin },
          ),
        );
      }
      return {
        origin: cp.origin,
        checkpoint: noteText,
        size: newSize,
        root: cp.rootHash,
        compact: compact.state().hashes,
        edge,
      };
    }
  };

  /** Runs `check`; returns its result and every alert it raised (none sent yet). */
  const attempt = async (
    signal: AbortSignal | undefined,
  ): Promise<{ result: RunResult; fatal: Alert | undefined }> => {
    const raised: Alert[] = [];
    try {
      return { result: await check(signal, raised), fatal: undefined };
    } catch (err) {
      await opts.mirror?.discard();
      if (!(err instanceof AlertRaised)) throw err;
      raised.push(err.alert);
      const prev = await opts.state.load();
      const size = prev?.size ?? 0n;
      return {
        result: { outcome: 'alert', oldSize: size, size, entries: 0n, alerts: raised },
        fatal: err.alert,
      };
    }
  };

  const runOnce = async (signal?: AbortSignal): Promise<RunResult> => {
    const began = Date.now();
    const { result } = await attempt(signal);
    for (const a of result.alerts) await opts.alerts.send(a);
    progress({
      phase: 'done',
      outcome: result.outcome,
      size: result.size,
      entries: result.entries,
      ms: Date.now() - began,
    });
    return result;
  };

  const run = async (signal: AbortSignal): Promise<void> => {
    const interval = opts.intervalMs ?? 30_000;
    const grace = opts.fetchFailureGraceMs ?? 5 * 60_000;
    // Alerts this loop already sent: one problem is not re-sent every interval.
    const seen = new Set<string>();
    let failingSince: number | undefined;
    let outageReported = false;
    // A function, so the checks after each await read the signal afresh.
    const stopped = (): boolean => signal.aborted;
    while (!stopped()) {
      const began = Date.now();
      let outcome: { result: RunResult; fatal: Alert | undefined };
      try {
        outcome = await attempt(signal);
      } catch (err) {
        if (stopped()) break;
        throw err;
      }
      if (stopped()) break;
      const { result, fatal } = outcome;
      if (fatal?.kind === 'fetch-failed') {
        failingSince ??= Date.now();
        if (!outageReported && Date.now() - failingSince >= grace) {
          outageReported = true;
          await opts.alerts.send(fatal);
        } else {
          progress({ phase: 'fetch-retry', message: fatal.message });
        }
      } else {
        failingSince = undefined;
        outageReported = false;
      }
      for (const a of result.alerts) {
        if (a.kind === 'fetch-failed') continue;
        const key = fingerprint(a);
        if (seen.has(key)) continue;
        seen.add(key);
        await opts.alerts.send(a);
      }
      progress({
        phase: 'done',
        outcome: result.outcome,
        size: result.size,
        entries: result.entries,
        ms: Date.now() - began,
      });
      await sleep(interval, signal);
    }
  };

  return { runOnce, run };
}

function fingerprint(a: Alert): string {
  // Evidence without the time: the same split view seen twice is one alert.
  return createHash('sha256').update(a.kind).update(JSON.stringify(a.evidence)).digest('hex');
}

function concat(hashes: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(hashes.length * HASH_SIZE);
  hashes.forEach((h, i) => {
    out.set(h, i * HASH_SIZE);
  });
  return out;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
