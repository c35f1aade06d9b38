import { BundleError } from './errors.js';

/**
 * A deliberately small ustar (POSIX.1-1988) encoder and reader.
 *
 * The writer emits only regular files, sorted by name, with every header field
 * that could leak the build host fixed: mtime is the caller's
 * `SOURCE_DATE_EPOCH`, uid/gid 0, uname/gname empty, modes 0644 or 0755, no
 * directory entries, no pax or GNU extension headers. The same entries always
 * give the same bytes.
 *
 * The reader is meant for bytes from outside: it accepts only what the writer
 * produces (regular files with safe relative paths), bounds every size and
 * count, and throws a coded `BundleError` for anything else.
 */

export const BLOCK = 512;

export interface TarEntry {
  /** Relative POSIX path, checked by {@link assertSafeRelativePath}. */
  readonly path: string;
  readonly data: Uint8Array;
  /** 0o755 when true, 0o644 otherwise. */
  readonly executable?: boolean;
}

export interface TarLimits {
  /** Largest single file, in bytes. */
  readonly maxFileBytes: number;
  /** Largest archive, in bytes. */
  readonly maxTotalBytes: number;
  /** Most entries. */
  readonly maxEntries: number;
}

export const DEFAULT_TAR_LIMITS: TarLimits = {
  maxFileBytes: 64 * 1024 * 1024,
  maxTotalBytes: 512 * 1024 * 1024,
  maxEntries: 100_000,
};

/** Largest value an 11-digit octal field holds (ustar size and mtime). */
const MAX_OCTAL_11 = 0o77777777777;

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Throws `TAR_BAD_PATH` unless `path` is a relative POSIX path whose segments
 * are non-empty, not `.` or `..`, and free of backslashes and control
 * characters. The same rule guards the writer and the reader, so nothing the
 * writer emits can escape an extraction directory.
 */
export function assertSafeRelativePath(path: string): void {
  const bad = (why: string): BundleError =>
    new BundleError('TAR_BAD_PATH', `unsafe path ${JSON.stringify(path)}: ${why}`, {
      evidence: { path },
    });
  if (path.length === 0) throw bad('empty');
  if (path.startsWith('/')) throw bad('absolute');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(path)) throw bad('control character or backslash');
  for (const segment of path.split('/')) {
    if (segment === '') throw bad('empty segment');
    if (segment === '.' || segment === '..') throw bad('dot segment');
  }
}

function writeString(header: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) {
    throw new BundleError('TAR_NAME_TOO_LONG', `field value too long: ${value}`);
  }
  header.set(bytes, offset);
}

/** Octal, zero-padded to `length - 1` digits, NUL-terminated (POSIX ustar). */
function writeOctal(header: Uint8Array, offset: number, length: number, value: number): void {
  const digits = value.toString(8).padStart(length - 1, '0');
  if (digits.length > length - 1) {
    throw new BundleError('TAR_TOO_LARGE', `value ${value} does not fit a ${length}-byte field`);
  }
  writeString(header, offset, length - 1, digits);
}

/** Splits a path into ustar `prefix` (≤155 bytes) and `name` (≤100 bytes). */
function splitName(path: string): { name: string; prefix: string } {
  const bytes = encoder.encode(path);
  if (bytes.length <= 100) return { name: path, prefix: '' };
  // POSIX ustar: the path is prefix + "/" + name, split at a slash.
  for (let i = path.lastIndexOf('/'); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100) {
      return { name, prefix };
    }
  }
  throw new BundleError('TAR_NAME_TOO_LONG', `path does not fit a ustar header: ${path}`, {
    evidence: { path },
  });
}

function checksum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) {
    // The checksum field itself counts as eight spaces.
    sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
  }
  return sum;
}

function encodeHeader(entry: TarEntry, mtime: number): Uint8Array {
  const header = new Uint8Array(BLOCK);
  const { name, prefix } = splitName(entry.path);
  writeString(header, 0, 100, name);
  writeOctal(header, 100, 8, entry.executable === true ? 0o755 : 0o644);
  writeOctal(header, 108, 8, 0); // uid
  writeOctal(header, 116, 8, 0); // gid
  writeOctal(header, 124, 12, entry.data.length);
  writeOctal(header, 136, 12, mtime);
  header[156] = 0x30; // typeflag '0': regular file
  writeString(header, 257, 6, 'ustar'); // magic "ustar\0"
  writeString(header, 263, 2, '00'); // version
  // uname/gname (265, 297) stay empty; devmajor/devminor are unused for files.
  writeOctal(header, 329, 8, 0);
  writeOctal(header, 337, 8, 0);
  writeString(header, 345, 155, prefix);
  // Six octal digits, NUL, space: the form POSIX and GNU tar both write.
  const sum = checksum(header).toString(8).padStart(6, '0');
  writeString(header, 148, 6, sum);
  header[154] = 0;
  header[155] = 0x20;
  return header;
}

/** Byte-wise comparison of UTF-8 encodings, so order never depends on locale. */
export function compareBytes(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * Encodes `entries` as a ustar archive: sorted by path (UTF-8 byte order),
 * each file's mtime set to `mtime` (seconds since the epoch, usually
 * `SOURCE_DATE_EPOCH`), terminated by two zero blocks.
 */
export function writeTar(entries: readonly TarEntry[], mtime: number): Uint8Array {
  if (!Number.isSafeInteger(mtime) || mtime < 0 || mtime > MAX_OCTAL_11) {
    throw new BundleError('RULES_BAD_EPOCH', `mtime out of range: ${mtime}`);
  }
  const sorted = [...entries].sort((a, b) => compareBytes(a.path, b.path));
  let total = 2 * BLOCK;
  const seen = new Set<string>();
  for (const entry of sorted) {
    assertSafeRelativePath(entry.path);
    if (seen.has(entry.path)) {
      throw new BundleError('TAR_DUPLICATE', `duplicate entry ${entry.path}`, {
        evidence: { path: entry.path },
      });
    }
    seen.add(entry.path);
    total += BLOCK + Math.ceil(entry.data.length / BLOCK) * BLOCK;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const entry of sorted) {
    out.set(encodeHeader(entry, mtime), offset);
    offset += BLOCK;
    out.set(entry.data, offset);
    offset += Math.ceil(entry.data.length / BLOCK) * BLOCK;
  }
  return out; // the trailing two blocks are already zero
}

/** A regular file read back from an archive. */
export interface TarFile {
  readonly path: string;
  readonly data: Uint8Array;
  readonly mode: number;
  readonly mtime: number;
}

function isZeroBlock(bytes: Uint8Array, offset: number): boolean {
  for (let i = offset; i < offset + BLOCK; i++) if (bytes[i] !== 0) return false;
  return true;
}

function readField(header: Uint8Array, offset: number, length: number, what: string): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  try {
    return strictDecoder.decode(end === -1 ? raw : raw.subarray(0, end));
  } catch (cause) {
    throw new BundleError('TAR_BAD_HEADER', `${what} is not valid UTF-8`, { cause });
  }
}

/** Octal digits, then only NULs or spaces; anything else is refused. */
function readOctal(header: Uint8Array, offset: number, length: number, what: string): number {
  const raw = header.subarray(offset, offset + length);
  let i = 0;
  while (i < raw.length && raw[i] === 0x20) i++; // leading spaces (old writers)
  let value = 0;
  let digits = 0;
  for (; i < raw.length; i++) {
    const c = raw[i] ?? 0;
    if (c < 0x30 || c > 0x37) break;
    value = value * 8 + (c - 0x30);
    digits++;
  }
  for (; i < raw.length; i++) {
    const c = raw[i];
    if (c !== 0 && c !== 0x20) {
      throw new BundleError('TAR_BAD_HEADER', `${what} is not an octal number`, {
        evidence: { field: what },
      });
    }
  }
  if (digits === 0) {
    throw new BundleError('TAR_BAD_HEADER', `${what} is empty`, { evidence: { field: what } });
  }
  return value;
}

/**
 * Reads a ustar archive produced by {@link writeTar} (or any writer that keeps
 * to regular files). Throws `TAR_*` codes for unsupported entry types, unsafe
 * or duplicate paths, bad checksums, truncation and anything over `limits`.
 */
export function readTar(bytes: Uint8Array, limits: TarLimits = DEFAULT_TAR_LIMITS): TarFile[] {
  if (bytes.length > limits.maxTotalBytes) {
    throw new BundleError('TAR_TOO_LARGE', `archive of ${bytes.length} bytes exceeds the limit`);
  }
  if (bytes.length % BLOCK !== 0) {
    throw new BundleError('TAR_TRUNCATED', 'archive length is not a multiple of 512 bytes');
  }
  const files: TarFile[] = [];
  const seen = new Set<string>();
  let offset = 0;
  for (;;) {
    if (offset + BLOCK > bytes.length) {
      throw new BundleError('TAR_TRUNCATED', 'archive ends without its end-of-archive blocks');
    }
    if (isZeroBlock(bytes, offset)) {
      // POSIX: the archive ends with two zero blocks; anything after must be padding.
      if (offset + 2 * BLOCK > bytes.length || !isZeroBlock(bytes, offset + BLOCK)) {
        throw new BundleError('TAR_TRUNCATED', 'archive ends after a single zero block');
      }
      for (let i = offset + 2 * BLOCK; i < bytes.length; i++) {
        if (bytes[i] !== 0) {
          throw new BundleError('TAR_BAD_HEADER', 'data after the end-of-archive blocks');
        }
      }
      return files;
    }
    const header = bytes.subarray(offset, offset + BLOCK);
    const stored = readOctal(header, 148, 8, 'checksum');
    if (stored !== checksum(header)) {
      throw new BundleError('TAR_BAD_CHECKSUM', `bad header checksum at offset ${offset}`, {
        evidence: { offset },
      });
    }
    if (
      readField(header, 257, 6, 'magic') !== 'ustar' ||
      header[263] !== 0x30 ||
      header[264] !== 0x30
    ) {
      throw new BundleError('TAR_BAD_HEADER', `not a POSIX ustar header at offset ${offset}`);
    }
    const name = readField(header, 0, 100, 'name');
    const prefix = readField(header, 345, 155, 'prefix');
    const path = prefix === '' ? name : `${prefix}/${name}`;
    const type = header[156];
    if (type !== 0x30 && type !== 0) {
      throw new BundleError(
        'TAR_UNSUPPORTED_TYPE',
        `entry ${JSON.stringify(path)} is not a regular file (type ${JSON.stringify(String.fromCharCode(type ?? 0))})`,
        { evidence: { path, type } },
      );
    }
    assertSafeRelativePath(path);
    if (seen.has(path)) {
      throw new BundleError('TAR_DUPLICATE', `duplicate entry ${path}`, { evidence: { path } });
    }
    seen.add(path);
    if (files.length >= limits.maxEntries) {
      throw new BundleError('TAR_TOO_LARGE', `more than ${limits.maxEntries} entries`);
    }
    const size = readOctal(header, 124, 12, 'size');
    if (size > limits.maxFileBytes) {
      throw new BundleError('TAR_TOO_LARGE', `entry ${path} is ${size} bytes, over the limit`, {
        evidence: { path, size },
      });
    }
    const mode = readOctal(header, 100, 8, 'mode');
    if ((mode & ~0o777) !== 0) {
      // setuid, setgid and sticky bits have no place in a bundle.
      throw new BundleError('TAR_BAD_HEADER', `entry ${path} has mode ${mode.toString(8)}`, {
        evidence: { path, mode },
      });
    }
    const mtime = readOctal(header, 136, 12, 'mtime');
    const start = offset + BLOCK;
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (start + padded > bytes.length) {
      throw new BundleError('TAR_TRUNCATED', `entry ${path} runs past the end of the archive`, {
        evidence: { path },
      });
    }
    files.push({ path, data: bytes.slice(start, start + size), mode, mtime });
    offset = start + padded;
  }
}
