import type { Dirent, Stats } from 'node:fs';
import { lstat, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { CompiledRules } from '@glasshouse/bundle';
import { ScanError } from './errors.js';
import { errnoOf } from './files.js';
import {
  describeError,
  grewTooLarge,
  KEPT_BUFFER_BYTES,
  OPEN_FLAGS,
  ReadBuffer,
  scanData,
  scanFileSync,
  skipped,
  specialKind,
  tooLarge,
  type ReadOutcome,
  type ScanRecord,
  type Skipped,
} from './scan-file.js';
import type { PoolEvent, ScanPool } from './scan-pool.js';

export type { ScanRecord, SkipReason } from './scan-file.js';
/**
 * Scanning files with the active rules: load the installed bundle (checking
 * every rule file against the manifest's digests), then walk the given paths
 * and scan each regular file with the compiled set's one reused scanner.
 *
 * Walking policy. Symbolic links are followed, like the `yara` CLI does, and
 * loops are detected, not avoided: every directory is identified by its
 * device and inode; a directory that is one of its own ancestors on the
 * current walk is reported as a `symlink-loop`, a directory already walked
 * through another path is reported as `duplicate` and not walked again, and
 * a link the kernel refuses to resolve (ELOOP, a chain of links that points
 * back at itself) is a `symlink-loop` too. With `followSymlinks: false`,
 * links met inside directories are reported as `symlink` and not followed;
 * paths given explicitly are always resolved.
 *
 * Nothing met during the walk is fatal: unreadable entries, files over the
 * size limit, FIFOs, sockets and devices are reported through `onResult`
 * as `skipped` records and the walk goes on. FIFOs and devices are never
 * opened; regular files are opened non-blocking and checked again with
 * `fstat`, so an entry swapped for a FIFO after the walk saw it cannot hang
 * the scan.
 *
 * Threads. Without a pool the calling thread reads and scans every file
 * (with `readAhead`, up to that many files are read on libuv's threads
 * while it scans). With a
 * `ScanPool` (worker threads, each with its own compiled set) the calling
 * thread walks, hands files to the workers through a bounded queue, and
 * scans a file itself whenever every worker is full or still loading its
 * rules (so a scan never waits for the workers to start); records are
 * reported in walk order whichever thread scanned them.
 */

/** The default for `ScanOptions.maxFileSize`: 64 MiB. */
export const DEFAULT_MAX_FILE_SIZE = 64 * 1024 * 1024;
/** The default for `ScanOptions.progressIntervalMs`. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 2000;

export interface ScanSummary {
  /** Regular files scanned. */
  readonly files: number;
  /** Bytes scanned. */
  readonly bytes: number;
  /** Files with at least one matching rule. */
  readonly matches: number;
  /** Entries reported as skipped. */
  readonly skipped: number;
  readonly seconds: number;
}

export interface ScanOptions {
  /** Files larger than this are skipped as `too-large`. Default {@link DEFAULT_MAX_FILE_SIZE}. */
  readonly maxFileSize?: number;
  /** Follow symlinks met inside directories (loops are detected). Default true. */
  readonly followSymlinks?: boolean;
  /** Called with the running totals at most every `progressIntervalMs`. */
  readonly onProgress?: (summary: ScanSummary) => void;
  readonly progressIntervalMs?: number;
  /**
   * Without a pool: files read ahead, on libuv's threads, of the one being
   * scanned (overlaps I/O with scanning, for slow disks). Default 0: the
   * scanning thread reads each file itself with synchronous calls, which
   * costs a fifth less CPU than the asynchronous reads when the files are
   * in the page cache.
   */
  readonly readAhead?: number;
  /**
   * Scanning threads with their own copies of the rules (`ScanPool.start`).
   * The caller closes it. Records come in the same order either way.
   */
  readonly pool?: ScanPool;
  /** Monotonic milliseconds; default `performance.now`. */
  readonly now?: () => number;
}

/** Walk results queued at most (skips pile up while files are being read). */
const MAX_QUEUED = 256;

const inodeKey = (st: Stats): string => `${st.dev}:${st.ino}`;

/**
 * Read buffers kept between files for the one-thread scan: a few, each at
 * most {@link KEPT_BUFFER_BYTES}. Allocating a buffer per file costs an
 * allocation and, over a tree, garbage collections.
 */
class BufferShelf {
  /** Kept buffers, smallest first. */
  #free: Buffer[] = [];
  constructor(readonly capacity: number) {}

  take(bytes: number): Buffer {
    const fit = this.#free.findIndex((b) => b.length >= bytes);
    if (fit >= 0) return this.#free.splice(fit, 1)[0] ?? Buffer.allocUnsafe(bytes);
    // Powers of two, so that a kept buffer fits the next files of about the same size.
    return Buffer.allocUnsafe(Math.max(64 * 1024, 2 ** Math.ceil(Math.log2(Math.max(bytes, 1)))));
  }

  give(buffer: Buffer): void {
    if (buffer.length > KEPT_BUFFER_BYTES) return;
    const free = [...this.#free, buffer].sort((a, b) => a.length - b.length);
    // Over capacity, the smallest goes.
    this.#free = free.slice(Math.max(0, free.length - this.capacity));
  }
}

/** `ReadOutcome` whose data lives in `buffer` (to give back to the shelf once scanned). */
type ShelvedOutcome = ReadOutcome & { readonly buffer?: Buffer };

/** Reads a regular file whole, re-checking its type and size on the open descriptor. */
async function readRegular(
  path: string,
  maxFileSize: number,
  shelf: BufferShelf,
): Promise<ShelvedOutcome> {
  let handle: FileHandle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (err) {
    return skipped(path, 'unreadable', describeError(err));
  }
  let buf: Buffer | undefined;
  try {
    const st = await handle.stat();
    if (!st.isFile()) return skipped(path, 'special-file', specialKind(st) ?? 'not a regular file');
    if (st.size > maxFileSize) return tooLarge(path, st.size, maxFileSize);
    // Read to end of file rather than trusting st.size: files grow, and some
    // (procfs) report size 0 yet have content. One spare byte so that a file
    // of exactly st.size bytes needs no second read into a bigger buffer.
    const first = Math.min(st.size + 1, maxFileSize + 1);
    buf = shelf.take(first);
    let limit = Math.min(buf.length, maxFileSize + 1);
    let length = 0;
    for (;;) {
      if (length === limit) {
        if (length > maxFileSize) break;
        const bigger = shelf.take(Math.min(limit * 2, maxFileSize + 1));
        buf.copy(bigger, 0, 0, length);
        shelf.give(buf);
        buf = bigger;
        limit = Math.min(buf.length, maxFileSize + 1);
      }
      const { bytesRead } = await handle.read(buf, length, limit - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxFileSize) {
      shelf.give(buf);
      return grewTooLarge(path, maxFileSize);
    }
    return { type: 'data', path, data: buf.subarray(0, length), buffer: buf };
  } catch (err) {
    if (buf !== undefined) shelf.give(buf);
    return skipped(path, 'unreadable', describeError(err));
  } finally {
    await handle.close().catch(() => undefined);
  }
}

type WalkItem = { readonly type: 'file'; readonly path: string } | Skipped;

/** The kind of a special directory entry, from its type in the directory listing. */
function specialDirentKind(entry: Dirent): string | undefined {
  if (entry.isFIFO()) return 'FIFO';
  if (entry.isSocket()) return 'socket';
  if (entry.isCharacterDevice()) return 'character device';
  if (entry.isBlockDevice()) return 'block device';
  return undefined;
}

/** Yields every regular file under `paths` and every skipped entry, directory entries sorted by name. */
async function* walk(paths: readonly string[], followSymlinks: boolean): AsyncGenerator<WalkItem> {
  const walked = new Set<string>();

  async function* visit(path: string, st: Stats, ancestors: Set<string>): AsyncGenerator<WalkItem> {
    if (!st.isDirectory()) {
      if (st.isFile()) {
        yield { type: 'file', path };
        return;
      }
      yield skipped(path, 'special-file', specialKind(st) ?? 'unknown file type');
      return;
    }
    const key = inodeKey(st);
    if (ancestors.has(key)) {
      yield skipped(path, 'symlink-loop', 'directory contains itself through a symlink');
      return;
    }
    if (walked.has(key)) {
      yield skipped(path, 'duplicate', 'directory already scanned through another path');
      return;
    }
    walked.add(key);
    let entries: Dirent[];
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (err) {
      yield skipped(path, 'unreadable', describeError(err));
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const below = new Set(ancestors).add(key);
    for (const entry of entries) {
      const child = join(path, entry.name);
      // The listing's file type saves a stat per file: regular files are
      // checked again on their open descriptor, special files are never opened.
      if (entry.isFile()) {
        yield { type: 'file', path: child };
        continue;
      }
      const special = specialDirentKind(entry);
      if (special !== undefined) {
        yield skipped(child, 'special-file', special);
        continue;
      }
      let childStat: Stats;
      try {
        childStat = await lstat(child);
      } catch (err) {
        yield skipped(child, 'unreadable', describeError(err));
        continue;
      }
      if (childStat.isSymbolicLink()) {
        if (!followSymlinks) {
          yield skipped(child, 'symlink', 'symlinks are not followed');
          continue;
        }
        const target = await statOrSkip(child);
        if (target.type === 'skipped') {
          yield target;
          continue;
        }
        childStat = target.st;
      }
      yield* visit(child, childStat, below);
    }
  }

  for (const path of paths) {
    const target = await statOrSkip(path);
    if (target.type === 'skipped') {
      yield target;
      continue;
    }
    yield* visit(path, target.st, new Set());
  }
}

async function statOrSkip(
  path: string,
): Promise<{ readonly type: 'stat'; readonly st: Stats } | Skipped> {
  try {
    return { type: 'stat', st: await stat(path) };
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ELOOP')
      return skipped(path, 'symlink-loop', 'ELOOP (a chain of symlinks that loops)');
    if (code === 'ENOENT')
      return skipped(path, 'unreadable', 'ENOENT (missing, or a dangling symlink)');
    return skipped(path, 'unreadable', describeError(err));
  }
}

/**
 * Walk results in walk order, with up to `readAhead` files being read while
 * the caller scans the current one (the scan is synchronous, the reads run
 * on libuv's thread pool meanwhile).
 */
async function* readInOrder(
  paths: readonly string[],
  followSymlinks: boolean,
  maxFileSize: number,
  readAhead: number,
  shelf: BufferShelf,
): AsyncGenerator<ShelvedOutcome> {
  const queue: { readonly outcome: Promise<ShelvedOutcome>; readonly file: boolean }[] = [];
  let pendingFiles = 0;
  const take = (): Promise<ShelvedOutcome> | undefined => {
    const head = queue.shift();
    if (head?.file === true) pendingFiles--;
    return head?.outcome;
  };
  for await (const item of walk(paths, followSymlinks)) {
    if (item.type === 'file') {
      queue.push({ outcome: readRegular(item.path, maxFileSize, shelf), file: true });
      pendingFiles++;
    } else {
      queue.push({ outcome: Promise.resolve(item), file: false });
    }
    while (pendingFiles > readAhead || queue.length > MAX_QUEUED) {
      const next = take();
      if (next === undefined) break;
      yield await next;
    }
  }
  for (let next = take(); next !== undefined; next = take()) yield await next;
}

/** Running totals and progress reports of one scan. */
class Tally {
  readonly #totals = { files: 0, bytes: 0, matches: 0, skipped: 0 };
  readonly #started: number;
  #lastProgress: number;

  constructor(
    private readonly now: () => number,
    private readonly interval: number,
    private readonly onProgress: ((summary: ScanSummary) => void) | undefined,
    private readonly onResult: (record: ScanRecord) => void,
  ) {
    this.#started = now();
    this.#lastProgress = this.#started;
  }

  report(record: ScanRecord): void {
    if (record.type === 'skipped') {
      this.#totals.skipped++;
    } else {
      this.#totals.files++;
      this.#totals.bytes += record.bytes;
      if (record.type === 'match') this.#totals.matches++;
    }
    this.onResult(record);
    if (this.onProgress !== undefined && this.now() - this.#lastProgress >= this.interval) {
      this.#lastProgress = this.now();
      this.onProgress(this.summary());
    }
  }

  summary(): ScanSummary {
    return { ...this.#totals, seconds: (this.now() - this.#started) / 1000 };
  }
}

/**
 * Scans every regular file under `paths` with `rules`, calling `onResult`
 * once per file scanned or entry skipped, in walk order (directory entries
 * sorted by name). One compiled set serves the whole scan (plus one copy per
 * worker of `options.pool`). Resolves with the totals; entries that cannot
 * be scanned are reported, never thrown.
 */
export async function scanPaths(
  rules: CompiledRules,
  paths: readonly string[],
  options: ScanOptions,
  onResult: (record: ScanRecord) => void,
): Promise<ScanSummary> {
  const maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const readAhead = options.readAhead ?? 0;
  if (!Number.isSafeInteger(maxFileSize) || maxFileSize < 0) {
    throw new ScanError('AGENT_SCAN_BAD_OPTION', `maxFileSize must be a non-negative integer`, {
      evidence: { maxFileSize },
    });
  }
  if (!Number.isSafeInteger(readAhead) || readAhead < 0 || readAhead > 64) {
    throw new ScanError('AGENT_SCAN_BAD_OPTION', `readAhead must be an integer from 0 to 64`, {
      evidence: { readAhead },
    });
  }
  const tally = new Tally(
    options.now ?? (() => performance.now()),
    options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
    options.onProgress,
    onResult,
  );
  const followSymlinks = options.followSymlinks ?? true;
  if (options.pool !== undefined || readAhead === 0) {
    await scanQueued(rules, paths, followSymlinks, maxFileSize, options.pool, tally);
    return tally.summary();
  }
  const shelf = new BufferShelf(readAhead + 1);
  for await (const outcome of readInOrder(paths, followSymlinks, maxFileSize, readAhead, shelf)) {
    if (outcome.type === 'skipped') {
      tally.report(outcome);
      continue;
    }
    const record = scanData(rules, outcome.path, outcome.data);
    if (outcome.buffer !== undefined) shelf.give(outcome.buffer);
    tally.report(record);
  }
  return tally.summary();
}

/**
 * The walk feeds a queue of at most {@link MAX_QUEUED} entries (counted from
 * the oldest not yet reported); files go to the pool's workers while they
 * have room, and to this thread when none has (every file, without a
 * pool). Records wait in `done` until every earlier one is in, then go out
 * in walk order.
 */
async function scanQueued(
  rules: CompiledRules,
  paths: readonly string[],
  followSymlinks: boolean,
  maxFileSize: number,
  pool: ScanPool | undefined,
  tally: Tally,
): Promise<void> {
  const entries = walk(paths, followSymlinks)[Symbol.asyncIterator]();
  const waiting: { readonly seq: number; readonly path: string }[] = [];
  const done = new Map<number, ScanRecord>();
  let nextSeq = 0;
  let nextReport = 0;
  let walked = false;
  let wake: (() => void) | undefined;
  const buffer = new ReadBuffer();

  const flush = (): void => {
    for (let r = done.get(nextReport); r !== undefined; r = done.get(nextReport)) {
      done.delete(nextReport++);
      tally.report(r);
    }
  };
  pool?.listen((event: PoolEvent) => {
    if (event.type === 'result') done.set(event.seq, event.record);
    const w = wake;
    wake = undefined;
    w?.();
  });
  try {
    for (;;) {
      while (!walked && nextSeq - nextReport < MAX_QUEUED) {
        const next = await entries.next();
        if (next.done === true) {
          walked = true;
          break;
        }
        const seq = nextSeq++;
        if (next.value.type === 'file') waiting.push({ seq, path: next.value.path });
        else done.set(seq, next.value);
      }
      for (let job = waiting[0]; job !== undefined; job = waiting[0]) {
        if (pool?.trySend({ ...job, maxFileSize }) !== true) break;
        waiting.shift();
      }
      flush();
      if (nextReport === nextSeq && walked) return;
      const job = waiting.shift();
      if (job !== undefined) {
        // Every worker is full or still loading its rules: this thread scans one too.
        done.set(job.seq, scanFileSync(rules, job.path, maxFileSize, buffer));
        // Let the workers' messages in before the next file.
        if (pool !== undefined) await nextTurn();
        continue;
      }
      if (nextSeq - nextReport < MAX_QUEUED && !walked) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    pool?.listen(undefined);
    await entries.return(undefined);
  }
}
