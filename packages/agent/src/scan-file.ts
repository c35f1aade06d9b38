/**
 * Reading and scanning one regular file, shared by the scan's threads: the
 * records a scan reports, the checks made on the open descriptor, and the
 * translation of an engine result into a record.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { matchedRuleNames, type CompiledRules, type ScanResult } from '@glasshouse/bundle';
import { errnoOf } from './files.js';

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
  /** The engine (or the thread running it) failed on this file. */
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

export type Skipped = Extract<ScanRecord, { type: 'skipped' }>;

export const skipped = (path: string, reason: SkipReason, detail: string): Skipped => ({
  type: 'skipped',
  path,
  reason,
  detail,
});

export function describeError(err: unknown): string {
  return errnoOf(err) ?? (err instanceof Error ? err.message : 'unknown error');
}

export function specialKind(st: Stats): string | undefined {
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return undefined;
}

/** Non-blocking, so that a FIFO swapped in after the walk looked cannot block the open. */
export const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** Buffers up to this size are kept for the next file; larger ones are dropped after use. */
export const KEPT_BUFFER_BYTES = 16 * 1024 * 1024;

export const tooLarge = (path: string, size: number, max: number): Skipped =>
  skipped(path, 'too-large', `${size} bytes, over the ${max}-byte limit`);

export const grewTooLarge = (path: string, max: number): Skipped =>
  skipped(path, 'too-large', `grew past the ${max}-byte limit while read`);

/**
 * A read buffer that one thread reuses from file to file: allocating a new
 * buffer per file costs an allocation and, summed over a tree, garbage
 * collections. It grows on demand up to the size limit plus one byte; one
 * above {@link KEPT_BUFFER_BYTES} is let go after the file that needed it.
 */
export class ReadBuffer {
  #kept: Buffer = Buffer.allocUnsafe(64 * 1024);

  /** A buffer of at least `bytes` bytes (its first `keep` bytes copied from `current`). */
  atLeast(bytes: number, current?: Buffer, keep = 0): Buffer {
    if (current !== undefined && current.length >= bytes) return current;
    if (current === undefined && this.#kept.length >= bytes) return this.#kept;
    const grown = Buffer.allocUnsafe(bytes);
    if (current !== undefined) current.copy(grown, 0, 0, keep);
    if (bytes <= KEPT_BUFFER_BYTES) this.#kept = grown;
    return grown;
  }
}

export type ReadOutcome =
  { readonly type: 'data'; readonly path: string; readonly data: Buffer } | Skipped;

/**
 * Reads a regular file whole with synchronous calls (for a thread that does
 * nothing else), re-checking its type and size on the open descriptor. The
 * data is a view of `buffer`'s memory: valid until its next read.
 */
export function readRegularSync(
  path: string,
  maxFileSize: number,
  buffer: ReadBuffer,
): ReadOutcome {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    return skipped(path, 'unreadable', describeError(err));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return skipped(path, 'special-file', specialKind(st) ?? 'not a regular file');
    if (st.size > maxFileSize) return tooLarge(path, st.size, maxFileSize);
    // Read to end of file rather than trusting st.size: files grow, and some
    // (procfs) report size 0 yet have content. One spare byte so that a file
    // of exactly st.size bytes needs no second buffer.
    let buf = buffer.atLeast(Math.min(Math.max(st.size + 1, 4096), maxFileSize + 1));
    let length = 0;
    for (;;) {
      if (length === buf.length) {
        if (length > maxFileSize) break;
        buf = buffer.atLeast(Math.min(buf.length * 2, maxFileSize + 1), buf, length);
      }
      const bytesRead = readSync(fd, buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxFileSize) return grewTooLarge(path, maxFileSize);
    return { type: 'data', path, data: buf.subarray(0, length) };
  } catch (err) {
    return skipped(path, 'unreadable', describeError(err));
  } finally {
    try {
      closeSync(fd);
    } catch {
      // Nothing to do: the descriptor is gone either way.
    }
  }
}

/** The record for `data` read from `path`: scanned with `rules`, or skipped when the scan failed or timed out. */
export function scanData(rules: CompiledRules, path: string, data: Uint8Array): ScanRecord {
  let result: ScanResult;
  try {
    result = rules.scan(data);
  } catch (err) {
    return skipped(path, 'scan-failed', describeError(err));
  }
  if (result.status === 'timeout') {
    return skipped(path, 'timeout', `scan took longer than ${result.timeoutMs} ms`);
  }
  const matched = matchedRuleNames(result);
  return matched.length > 0
    ? { type: 'match', path, bytes: data.length, rules: matched }
    : { type: 'clean', path, bytes: data.length };
}

/** Reads `path` within `maxFileSize` and scans it: the one step every scanning thread repeats. */
export function scanFileSync(
  rules: CompiledRules,
  path: string,
  maxFileSize: number,
  buffer: ReadBuffer,
): ScanRecord {
  const read = readRegularSync(path, maxFileSize, buffer);
  return read.type === 'skipped' ? read : scanData(rules, path, read.data);
}
