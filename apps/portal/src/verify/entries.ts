/**
 * A whole log read entry by entry from its entry bundles (c2sp.org/tlog-tiles)
 * and hashed back, as RFC 9162 leaves, to the root a verified checkpoint
 * signs: nothing left out, nothing changed. For the small logs a page
 * replays (residency, access).
 */
import { CodedError } from '@glasshouse/errors';
import {
  bytesEqual,
  CompactRange,
  decodeBundle,
  encodeBase64,
  hashLeaf,
  tilePath,
  type Checkpoint,
} from '@glasshouse/tlog';
import { step, type Check } from './check.js';
import { fetchBytes, type Fetcher } from './fetch.js';

/** Entries a page replays at most. */
export const MAX_REPLAYED_ENTRIES = 100_000;
const WIDTH = 256;

export const ENTRIES_CHECK = {
  id: 'entries',
  title: 'Every entry, hashed to the root',
  what: 'Every entry of the log, read from its entry bundles (c2sp.org/tlog-tiles), hashed as RFC 9162 leaves into a tree whose root must be the signed one: nothing left out, nothing changed. Each entry shown is therefore included in the log.',
};

async function readEntries(base: string, size: bigint, fetcher?: Fetcher): Promise<Uint8Array[]> {
  const entries: Uint8Array[] = [];
  const w = BigInt(WIDTH);
  for (let k = 0n; k * w < size; k++) {
    const width = Number(size - k * w < w ? size - k * w : w);
    let bytes: Uint8Array;
    try {
      bytes = await fetchBytes(`${base}${tilePath({ kind: 'entries', index: k, width })}`, fetcher);
    } catch (err) {
      // c2sp.org/tlog-tiles: a partial bundle may be gone once the full one exists.
      if (width === WIDTH) throw err;
      const full = tilePath({ kind: 'entries', index: k, width: WIDTH });
      bytes = await fetchBytes(`${base}${full}`, fetcher);
    }
    const bundle = decodeBundle(bytes, { maxEntries: WIDTH });
    if (bundle.length < width) {
      throw new CodedError(
        'PORTAL_ENTRIES_SHORT',
        `entry bundle ${k} has ${bundle.length} entries, want ${width}`,
      );
    }
    entries.push(...bundle.slice(0, width));
  }
  return entries;
}

/**
 * `value`: the entries, once they reproduce the signed root. `read`: the
 * entries as read, even when they do not (a page may still show which
 * entry fails its own inclusion proof).
 */
export async function replayEntries(
  base: string,
  cp: Checkpoint,
  fetcher?: Fetcher,
): Promise<{ check: Check; value: Uint8Array[] | undefined; read: Uint8Array[] | undefined }> {
  let read: Uint8Array[] | undefined;
  const replayed = await step(ENTRIES_CHECK, async () => {
    if (cp.size > BigInt(MAX_REPLAYED_ENTRIES)) {
      throw new CodedError(
        'PORTAL_LOG_TOO_LARGE',
        `${cp.size} entries; the page replays at most ${MAX_REPLAYED_ENTRIES}`,
      );
    }
    const entries = await readEntries(base, cp.size, fetcher);
    read = entries;
    const tree = new CompactRange();
    for (const e of entries) tree.append(hashLeaf(e));
    const root = tree.root();
    if (!bytesEqual(root, cp.rootHash)) {
      throw new CodedError(
        'PORTAL_ENTRIES_ROOT_MISMATCH',
        `the entries hash to ${encodeBase64(root)}, the checkpoint signs ${encodeBase64(cp.rootHash)}`,
      );
    }
    return {
      value: entries,
      summary: `${entries.length} entries reproduce root ${encodeBase64(root)}`,
    };
  });
  return { ...replayed, read };
}
