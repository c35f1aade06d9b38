import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { matchedRuleNames, type CompiledRules, type ScanResult } from '@glasshouse/bundle';
import { ScanError } from './errors.js';
import { errnoOf } from './files.js';
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
 */

/** The default for `ScanOptions.maxFileSize`: 64 MiB. */
export const DEFAULT_MAX_FILE_SIZE = 64 * 1024 * 1024;
/** The default for `ScanOptions.progressIntervalMs`. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 2000;

/** Why an entry was not scanned. */
export type SkipReason =
  /** Could not be opened, read or listed (permissions, I/O error, vanished, dangling link). */
  | 'unreadable'
  /** Larger than `maxFileSize`. */
  | 'too-large'
  /** A symlink loop, or a directory reached again below itself. */
  | 'symlink-loop'
  /** A directory already walked through another path. */
  | 'duplicate'
  /** A symlink inside a directory while `followSymlinks` is false. */
  | 'symlink'
  /** A FIFO, socket, character or block device. */
  | 'special-file'
  /** The engine failed on this file. */
  | 'scan-failed'
  /** The scan of this file ran past the per-file time limit (the scan goes on with the next file). */
  | 'timeout';

export type ScanRecord =
  | {
      readonly type: 'match';
      readonly path: string;
      readonly bytes: number;
      /** Sorted public rule names. */
      readonly rules: readonly string[];
    }
  | { readonly type: 'clean'; readonly path: string; readonly bytes: number }
  | {
      readonly type: 'skipped';
      readonly path: string;
      readonly reason: SkipReason;
      /** A short human-readable explanation (errno code, file kind, size). */
      readonly detail: string;
    };

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
  /** Files read ahead of the one being scanned (overlaps I/O with scanning). Default 2. */
  readonly readAhead?: number;
  /** Monotonic milliseconds; default `performance.now`. */
  readonly now?: () => number;
}

type Outcome =
  | { readonly type: 'data'; readonly path: string; readonly data: Uint8Array }
  | Extract<ScanRecord, { type: 'skipped' }>;

/** Walk results queued at most (skips pile up while files are being read). */
const MAX_QUEUED = 256;

type Skipped = Extract<ScanRecord, { type: 'skipped' }>;

const skipped = (path: string, reason: SkipReason, detail: string): Skipped => ({
  type: 'skipped',
  path,
  reason,
  detail,
});

function describeError(err: unknown): string {
  return errnoOf(err) ?? (err instanceof Error ? err.message : 'unknown error');
}

function specialKind(st: Stats): string | undefined {
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return undefined;
}

const inodeKey = (st: Stats): string => `${st.dev}:${st.ino}`;

/** Reads a regular file whole, re-checking its type and size on the open descriptor. */
async function readRegular(path: string, maxFileSize: number): Promise<Outcome> {
  let handle: FileHandle;
  try {
    // Non-blocking so that a FIFO swapped in after the walk looked cannot block the open.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    return skipped(path, 'unreadable', describeError(err));
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return skipped(path, 'special-file', specialKind(st) ?? 'not a regular file');
    if (st.size > maxFileSize) {
      return skipped(path, 'too-large', `${st.size} bytes, over the ${maxFileSize}-byte limit`);
    }
    // Read to end of file rather than trusting st.size: files grow, and some
    // (procfs) report size 0 yet have content.
    // One spare byte so that a file of exactly st.size bytes needs no second buffer.
    let buf = Buffer.allocUnsafe(Math.min(Math.max(st.size + 1, 4096), maxFileSize + 1));
    let length = 0;
    for (;;) {
      if (length === buf.length) {
        if (length > maxFileSize) break;
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 2, maxFileSize + 1));
        buf.copy(bigger, 0, 0, length);
        buf = bigger;
      }
      const { bytesRead } = await handle.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxFileSize) {
      return skipped(path, 'too-large', `grew past the ${maxFileSize}-byte limit while read`);
    }
    return { type: 'data', path, data: buf.subarray(0, length) };
  } catch (err) {
    return skipped(path, 'unreadable', describeError(err));
  } finally {
    await handle.close().catch(() => undefined);
  }
}

type WalkItem = { readonly type: 'file'; readonly path: string } | Outcome;

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
    let names: string[];
    try {
      names = await readdir(path);
    } catch (err) {
      yield skipped(path, 'unreadable', describeError(err));
      return;
    }
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const below = new Set(ancestors).add(key);
    for (const name of names) {
      const child = join(path, name);
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
): AsyncGenerator<Outcome> {
  const queue: { readonly outcome: Promise<Outcome>; readonly file: boolean }[] = [];
  let pendingFiles = 0;
  const take = (): Promise<Outcome> | undefined => {
    const head = queue.shift();
    if (head?.file === true) pendingFiles--;
    return head?.outcome;
  };
  for await (const item of walk(paths, followSymlinks)) {
    if (item.type === 'file') {
      queue.push({ outcome: readRegular(item.path, maxFileSize), file: true });
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

/**
 * Scans every regular file under `paths` with `rules`, calling `onResult`
 * once per file scanned or entry skipped, in walk order (directory entries
 * sorted by name). One scanner of the compiled set serves the whole scan. Resolves with
 * the totals; entries that cannot be scanned are reported, never thrown.
 */
export async function scanPaths(
  rules: CompiledRules,
  paths: readonly string[],
  options: ScanOptions,
  onResult: (record: ScanRecord) => void,
): Promise<ScanSummary> {
  const maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  const readAhead = options.readAhead ?? 2;
  const interval = options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
  const now = options.now ?? (() => performance.now());
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
  const started = now();
  let lastProgress = started;
  const totals = { files: 0, bytes: 0, matches: 0, skipped: 0 };
  const summary = (): ScanSummary => ({ ...totals, seconds: (now() - started) / 1000 });

  for await (const outcome of readInOrder(
    paths,
    options.followSymlinks ?? true,
    maxFileSize,
    readAhead,
  )) {
    if (outcome.type === 'skipped') {
      totals.skipped++;
      onResult(outcome);
    } else {
      let result: ScanResult;
      try {
        result = rules.scan(outcome.data);
      } catch (err) {
        totals.skipped++;
        onResult(skipped(outcome.path, 'scan-failed', describeError(err)));
        continue;
      }
      if (result.status === 'timeout') {
        totals.skipped++;
        onResult(skipped(outcome.path, 'timeout', `scan took longer than ${result.timeoutMs} ms`));
        continue;
      }
      const matched = matchedRuleNames(result);
      totals.files++;
      totals.bytes += outcome.data.length;
      if (matched.length > 0) {
        totals.matches++;
        onResult({
          type: 'match',
          path: outcome.path,
          bytes: outcome.data.length,
          rules: matched,
        });
      } else {
        onResult({ type: 'clean', path: outcome.path, bytes: outcome.data.length });
      }
    }
    if (options.onProgress !== undefined && now() - lastProgress >= interval) {
      lastProgress = now();
      options.onProgress(summary());
    }
  }
  return summary();
}
