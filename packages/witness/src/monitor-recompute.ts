/**
 * Steps 3–5 of a monitor run (see `monitor.ts`): the tree recomputed from
 * the entries the log serves, every served tile compared with it, every new
 * entry handed to the entry checker, and the root compared with the
 * checkpoint's.
 */
import { setMaxListeners } from 'node:events';
import {
  type Checkpoint,
  CompactRange,
  type CompletedNode,
  Frontier,
  HASH_SIZE,
  TILE_HEIGHT,
  TILE_WIDTH,
  TlogError,
  bytesEqual,
  encodeBase64,
  hashEntries,
  subtreeRoot,
  tilePath,
  tileWidthAt,
} from '@glasshouse/tlog';
import type { Alert, AlertKind } from './alerts.js';
import type { EntryChecker } from './checker.js';
import { WitnessError } from './errors.js';
import type { MirrorStore } from './mirror.js';
import type { AlertFactory } from './monitor-alerts.js';
import type { MonitorState } from './monitor-state.js';
import type { FetchedBundle, FetchedTile, TilesFetcher } from './tiles-fetch.js';

export interface RecomputeContext {
  readonly fetcher: TilesFetcher;
  readonly alerts: AlertFactory;
  readonly mirror: MirrorStore | undefined;
  readonly checker: EntryChecker | undefined;
  /** Content alerts reported per run before summarising. */
  readonly maxAlerts: number;
  /** Bundles fetched ahead of the one being verified. */
  readonly prefetch: number;
  readonly onProgress: (e: { size: bigint; newSize: bigint; entriesPerSecond: number }) => void;
}

const WIDTH = BigInt(TILE_WIDTH);

/**
 * Steps 3–5: recomputes the tree from `start.size` to the checkpoint,
 * bundle by bundle. Content alerts go to `raised` (at most `maxAlerts`, then
 * one summary); a fetch failure ends the run as an `AlertRaised`. Returns
 * the state to persist if `raised` stays empty.
 */
export async function recomputeTree(
  ctx: RecomputeContext,
  start: MonitorState,
  cp: Checkpoint,
  noteText: string,
  outer: AbortSignal | undefined,
  raised: Alert[],
): Promise<MonitorState> {
  const { fetcher, alerts, prefetch, maxAlerts } = ctx;
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
        alerts.make(
          kind,
          message,
          { checkpoint: noteText, ...evidence },
          { origin: cp.origin, code },
        ),
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
        throw alerts.fetchFailed(
          err,
          `tile ${tilePath({ kind: 'hash', level, index, width: hashes.length })}`,
          cp.origin,
        );
      }
      if (compareTile(t.path, t.data, concat(hashes))) await ctx.mirror?.stage(t.path, t.data);
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
        throw alerts.fetchFailed(got.e, `entry bundle ${n}`, cp.origin);
      }
      const { bundle, tile } = got.v;
      const first = n * WIDTH;
      const width = bundle.starts.length;
      // RFC 9162 §2.1.1 leaf hashes of every entry, one after the other: the level-0 tile they must equal.
      const leaves = hashEntries(bundle);
      const leafAt = (i: number): Uint8Array => leaves.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
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

      if (ctx.checker !== undefined) {
        for (let i = known; i < width; i++) {
          const index = first + BigInt(i);
          const data = bundle.entries[i] as Uint8Array;
          try {
            const checked = ctx.checker.check({ index, data });
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
      if (bundleOk && tileOk && ctx.mirror !== undefined) {
        await ctx.mirror.stage(bundle.path, bundle.data);
        await ctx.mirror.stage(tile.path, tile.data);
      }
      const t = Date.now();
      if (t - lastReport >= 1000 || n === endBundle - 1n) {
        lastReport = t;
        const done = range.size - start.size;
        ctx.onProgress({
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
        alerts.make(
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
        alerts.make(
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
}

function concat(hashes: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(hashes.length * HASH_SIZE);
  hashes.forEach((h, i) => {
    out.set(h, i * HASH_SIZE);
  });
  return out;
}
