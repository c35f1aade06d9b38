/**
 * A small c2sp.org/tlog-tiles reader for the logs the data path writes to:
 * the residency log (policies and enrollments) and each site's ingest log.
 * It fetches the checkpoint, checks it against a witness policy, and reads
 * entry bundles; every byte is checked, nothing fetched is trusted.
 */
import { readBoundedBody } from '@glasshouse/http';
import {
  CompactRange,
  TILE_WIDTH,
  decodeBundle,
  hashLeaf,
  tilePath,
  verifyCheckpointWithPolicy,
  type Checkpoint,
  type Policy,
} from '@glasshouse/tlog';
import { AgentError, type AgentErrorCode } from '../errors.js';

/** A signed checkpoint with a few cosignatures. */
const MAX_CHECKPOINT_BYTES = 64 * 1024;
/** 256 entries of at most 64 KiB each, with their length prefixes (c2sp.org/tlog-tiles). */
const MAX_BUNDLE_BYTES = 256 * (65_535 + 2);
/** The agent reads whole residency logs; beyond this it refuses rather than download for ever. */
export const MAX_LOG_ENTRIES_READ = 100_000n;
const WIDTH = BigInt(TILE_WIDTH);
const TIMEOUT_MS = 15_000;

export interface TileLog {
  /** The log's prefix URL, ending with '/'. */
  readonly url: string;
  /** Its c2sp.org/tlog-policy (log key, witnesses, quorum). */
  readonly policy: Policy;
  /** The code to throw when the log answers something that does not verify. */
  readonly invalid: AgentErrorCode;
  /** The code to throw when the log cannot be reached. */
  readonly unreachable: AgentErrorCode;
  readonly fetch?: typeof fetch;
}

async function get(log: TileLog, path: string, max: number): Promise<Uint8Array | undefined> {
  const url = new URL(path, log.url);
  let res: Response;
  try {
    res = await (log.fetch ?? fetch)(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (cause) {
    throw new AgentError(log.unreachable, `cannot reach ${url.href}`, { cause });
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new AgentError(log.unreachable, `${url.href} answered HTTP ${res.status}`, {
      evidence: { url: url.href, status: res.status },
    });
  }
  try {
    return await readBoundedBody(res, max);
  } catch (cause) {
    throw new AgentError(log.invalid, `${url.href} answered too much`, { cause });
  }
}

/** The log's current checkpoint, verified against its policy (log key, witness quorum). */
export async function fetchCheckpoint(
  log: TileLog,
): Promise<{ checkpoint: Checkpoint; note: string }> {
  const bytes = await get(log, 'checkpoint', MAX_CHECKPOINT_BYTES);
  if (bytes === undefined) {
    throw new AgentError(log.unreachable, `${log.url} has no checkpoint`);
  }
  const note = new TextDecoder().decode(bytes);
  try {
    // c2sp.org/tlog-policy: the log's signature and the witness quorum.
    return { checkpoint: verifyCheckpointWithPolicy(note, log.policy).checkpoint, note };
  } catch (cause) {
    throw new AgentError(log.invalid, `the checkpoint of ${log.url} does not meet its policy`, {
      cause,
    });
  }
}

/**
 * The entries of the bundle holding leaf `tile * 256` in a tree of `size`
 * leaves: the partial bundle of each given size first, then the full one
 * (a log may delete partial tiles once the full one exists, c2sp.org/tlog-tiles).
 */
async function bundleAt(
  log: TileLog,
  tile: bigint,
  sizes: readonly bigint[],
): Promise<Uint8Array[]> {
  const widths = new Set<number>();
  for (const size of sizes) {
    const left = size - tile * WIDTH;
    if (left > 0n) widths.add(Number(left < WIDTH ? left : WIDTH));
  }
  widths.add(TILE_WIDTH);
  const min = Math.min(...widths);
  for (const width of widths) {
    const path = tilePath({ kind: 'entries', index: tile, width });
    const bytes = await get(log, path, MAX_BUNDLE_BYTES);
    if (bytes === undefined) continue;
    let entries: Uint8Array[];
    try {
      entries = decodeBundle(bytes);
    } catch (cause) {
      throw new AgentError(log.invalid, `${log.url}${path} is not an entry bundle`, { cause });
    }
    if (entries.length !== width) {
      throw new AgentError(log.invalid, `${log.url}${path} holds ${entries.length} entries`, {
        evidence: { path, entries: entries.length, expected: width },
      });
    }
    return entries.slice(0, min);
  }
  throw new AgentError(log.invalid, `${log.url} serves no entry bundle ${tile}`, {
    evidence: { tile: tile.toString(), sizes: sizes.map(String) },
  });
}

/**
 * The entry at `index`, from the bundle of a tree of one of `sizes` leaves
 * (the caller checks it with an inclusion proof).
 */
export async function fetchEntry(
  log: TileLog,
  index: bigint,
  sizes: readonly bigint[],
): Promise<Uint8Array> {
  const entries = await bundleAt(log, index / WIDTH, sizes);
  const entry = entries[Number(index % WIDTH)];
  if (entry === undefined) throw new AgentError(log.invalid, `no entry ${index} in ${log.url}`);
  return entry;
}

/**
 * Every entry of the tree of `checkpoint`, checked against its root hash
 * (RFC 9162 §2.1.1: the tree head is computed from the leaves).
 */
export async function fetchAllEntries(log: TileLog, checkpoint: Checkpoint): Promise<Uint8Array[]> {
  if (checkpoint.size > MAX_LOG_ENTRIES_READ) {
    throw new AgentError(log.invalid, `${log.url} has more entries than the agent reads`, {
      evidence: { size: checkpoint.size.toString() },
    });
  }
  const out: Uint8Array[] = [];
  const range = new CompactRange();
  for (let tile = 0n; tile * WIDTH < checkpoint.size; tile++) {
    for (const entry of await bundleAt(log, tile, [checkpoint.size])) {
      range.append(hashLeaf(entry));
      out.push(entry);
    }
  }
  const root = range.root();
  if (Buffer.compare(Buffer.from(root), Buffer.from(checkpoint.rootHash)) !== 0) {
    throw new AgentError(log.invalid, `the entries of ${log.url} do not hash to its checkpoint`, {
      evidence: { size: checkpoint.size.toString() },
    });
  }
  return out;
}
