/**
 * Child of the monitor benchmark (`monitor.ts`): builds a log of SIZE
 * entries in DIR and serves it with the log's own `buildServer` on loopback.
 *
 *   node --import tsx bench/monitored-log.ts DIR SIZE
 *
 * Sequencing a million entries one SQLite batch at a time and integrating
 * them round by round takes over a minute here, most of it in the log's own
 * write path, which is not what this benchmark measures. So the log is
 * written the way one integration round from 0 to SIZE would write it: the
 * same tlog code (`CompactRange`, `encodeBundle`, `tilesToWrite`,
 * `tilePath`) produces the bundles and hash tiles, the real SQLite storage
 * stores them (`writeTiles`, fsync'd) and the signed checkpoint
 * (`casState`, `casPublished`), and the real log serves them. The entries
 * table stays empty; nothing on the read path uses it.
 */
import { onStop, reportFailure, reportReady } from '@glasshouse/bench-kit';
import {
  CompactRange,
  HASH_SIZE,
  TILE_HEIGHT,
  TILE_WIDTH,
  encodeBundle,
  formatCheckpoint,
  generateSignerKey,
  hashLeaf,
  parseSignerKey,
  signNote,
  tilePath,
  tileWidthAt,
  tilesToWrite,
} from '@glasshouse/tlog';
import { type TileWrite, buildServer, initLog, openLog, openSqliteStorage } from '../src/index.js';

export const BENCH_ORIGIN = 'bench.example/monitored-log';
/** Every entry is this long: its leaf hash input is 65 bytes, like the baseline's. */
export const ENTRY_BYTES = 64;

export interface MonitoredLogReady {
  readonly url: string;
  readonly verifierKey: string;
  readonly size: string;
  readonly buildMs: number;
}

/** Entry `i`: its index in decimal, padded with a fixed pattern to ENTRY_BYTES. */
function entry(i: number): Uint8Array {
  const e = new Uint8Array(ENTRY_BYTES).fill(0x2e);
  const text = `bench entry ${i} `;
  for (let k = 0; k < text.length; k++) e[k] = text.charCodeAt(k);
  return e;
}

async function main(): Promise<void> {
  const [dir, sizeArg] = process.argv.slice(2);
  if (dir === undefined || sizeArg === undefined) throw new Error('usage: monitored-log DIR SIZE');
  const size = Number(sizeArg);
  const began = performance.now();
  const storage = await openSqliteStorage({ dir });
  const { signerKey, verifierKey } = generateSignerKey(BENCH_ORIGIN);
  await initLog({ origin: BENCH_ORIGIN, signerKey, storage });

  const range = new CompactRange();
  // Nodes at tile levels above 0 (tree levels 8, 16, …), by tile level, in index order.
  const upper: Uint8Array[][] = [];
  const pending: TileWrite[] = [];
  const written = new Set<string>();
  const flush = async (): Promise<void> => {
    await storage.writeTiles(pending);
    for (const t of pending) written.add(t.path);
    pending.length = 0;
  };
  const bundles = Math.ceil(size / TILE_WIDTH);
  let lastReport = performance.now();
  for (let n = 0; n < bundles; n++) {
    const width = tileWidthAt(0, BigInt(n), BigInt(size));
    const entries = Array.from({ length: width }, (_, k) => entry(n * TILE_WIDTH + k));
    const tile = new Uint8Array(width * HASH_SIZE);
    entries.forEach((e, k) => {
      const leaf = hashLeaf(e);
      tile.set(leaf, k * HASH_SIZE);
      for (const node of range.append(leaf)) {
        if (node.level === 0 || node.level % TILE_HEIGHT !== 0) continue;
        const level = node.level / TILE_HEIGHT;
        while (upper.length <= level) upper.push([]);
        upper[level]!.push(node.hash);
      }
    });
    pending.push({
      path: tilePath({ kind: 'entries', index: BigInt(n), width }),
      data: encodeBundle(entries),
    });
    pending.push({
      path: tilePath({ kind: 'hash', level: 0, index: BigInt(n), width }),
      data: tile,
    });
    if (pending.length >= 512) await flush();
    if (performance.now() - lastReport > 2_000) {
      lastReport = performance.now();
      process.stderr.write(
        `  log: ${range.size.toLocaleString('en-US')} of ${size.toLocaleString('en-US')} entries written\n`,
      );
    }
  }
  // Hash tiles above level 0, from the nodes the appends completed.
  for (let level = 1; level < upper.length; level++) {
    const nodes = upper[level]!;
    for (let index = 0; index * TILE_WIDTH < nodes.length; index++) {
      const width = tileWidthAt(level, BigInt(index), BigInt(size));
      const data = new Uint8Array(width * HASH_SIZE);
      for (let k = 0; k < width; k++) data.set(nodes[index * TILE_WIDTH + k]!, k * HASH_SIZE);
      pending.push({ path: tilePath({ kind: 'hash', level, index: BigInt(index), width }), data });
    }
  }
  await flush();
  // Exactly what an integration round from 0 to `size` writes, nothing more or less.
  const expected = tilesToWrite(0n, BigInt(size)).map(tilePath);
  if (expected.length !== written.size || !expected.every((p) => written.has(p))) {
    throw new Error(`wrote ${written.size} tiles, an integration round writes ${expected.length}`);
  }

  const signer = parseSignerKey(signerKey);
  const checkpoint = signNote(
    formatCheckpoint({
      origin: BENCH_ORIGIN,
      size: range.size,
      rootHash: range.root(),
      extensions: [],
    }),
    [signer],
  );
  const state = { size: range.size, checkpoint, compactHashes: range.state().hashes };
  if (!(await storage.casState(0n, state))) throw new Error('the log state moved');
  if (!(await storage.casPublished(0n, { size: range.size, checkpoint }))) {
    throw new Error('the published checkpoint moved');
  }

  const log = await openLog({ storage, verifierKey, integrate: false });
  const app = buildServer({ log });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  onStop(async () => {
    await app.close();
    await log.close();
    await storage.close();
  });
  const ready: MonitoredLogReady = {
    url: `${address}/`,
    verifierKey,
    size: range.size.toString(),
    buildMs: performance.now() - began,
  };
  reportReady(ready);
}

main().catch(reportFailure);
