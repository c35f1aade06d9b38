/**
 * The file manifest of a product release: every file the product's npm-pack
 * tarball holds (paths relative to the tarball's `package/` directory), with
 * its SHA-256, size and whether it is executable. It is built by the
 * product's own recipe beside the tarball, so it is an artifact of the
 * release like the tarball: in the provenance, the VSA, the release-log
 * entry and the TUF targets. An endpoint installs a product only when the
 * unpacked tree is exactly this list. Pure.
 */
import { sha256, toHex, utf8 } from '@glasshouse/crypto';
import { ReleaseFormatError } from './errors.js';
import { parseJsonObject } from './json.js';

export const PRODUCT_FILES_SCHEMA = 'glasshouse.product-files/v1';
/** The directory npm pack puts every file under. */
export const NPM_PACK_ROOT = 'package/';
/** A file manifest is a few hundred bytes per file. */
export const MAX_PRODUCT_FILES_BYTES = 8 * 1024 * 1024;
export const MAX_PRODUCT_FILE_COUNT = 20_000;
const MAX_PATH_BYTES = 1024;
/**
 * Caps of an unpacked product tarball, for the build that makes its manifest
 * and the endpoint that installs it: 256 MiB in all, 64 MiB a file, 20,000
 * files (the shape of bundle's `TarLimits`).
 */
export const PRODUCT_TAR_LIMITS = {
  maxFileBytes: 64 * 1024 * 1024,
  maxTotalBytes: 256 * 1024 * 1024,
  maxEntries: MAX_PRODUCT_FILE_COUNT,
} as const;

export interface ProductFile {
  readonly sha256: string;
  readonly size: number;
  readonly executable: boolean;
}

export interface ProductFiles {
  readonly schema: typeof PRODUCT_FILES_SCHEMA;
  readonly name: string;
  readonly version: string;
  /** By path relative to the package root, sorted by code unit. */
  readonly files: Readonly<Record<string, ProductFile>>;
}

/** `<name>-<version>.tgz`: what `npm pack` names an unscoped package's tarball. */
export function productTarballName(release: { name: string; version: string }): string {
  return `${release.name}-${release.version}.tgz`;
}

/** `<name>-<version>.files.json`: the tarball's file manifest. */
export function productFilesName(release: { name: string; version: string }): string {
  return `${release.name}-${release.version}.files.json`;
}

/** The manifest of the files of an npm-pack tarball, as `readTar` returns them. */
export function productFilesOf(
  release: { name: string; version: string },
  entries: readonly { readonly path: string; readonly data: Uint8Array; readonly mode: number }[],
): ProductFiles {
  const files: Record<string, ProductFile> = {};
  for (const entry of [...entries].sort((a, b) => compare(a.path, b.path))) {
    if (!entry.path.startsWith(NPM_PACK_ROOT)) {
      throw invalid(`${entry.path} is not under ${NPM_PACK_ROOT}`);
    }
    const path = entry.path.slice(NPM_PACK_ROOT.length);
    checkPath(path);
    files[path] = {
      sha256: toHex(sha256(entry.data)),
      size: entry.data.length,
      executable: (entry.mode & 0o111) !== 0,
    };
  }
  return { schema: PRODUCT_FILES_SCHEMA, name: release.name, version: release.version, files };
}

export function serializeProductFiles(files: ProductFiles): Uint8Array {
  return utf8(`${JSON.stringify(files, null, 2)}\n`);
}

/** Parses a file manifest from outside: bounded, strict fields, safe relative paths. */
export function parseProductFiles(bytes: Uint8Array): ProductFiles {
  const v: Partial<Record<keyof ProductFiles, unknown>> = parseJsonObject(
    bytes,
    MAX_PRODUCT_FILES_BYTES,
    'PRODUCT_FILES_INVALID',
    'the file manifest',
  );
  if (Object.keys(v).sort().join() !== 'files,name,schema,version') {
    throw invalid('fields are not schema, name, version, files');
  }
  if (v.schema !== PRODUCT_FILES_SCHEMA) throw invalid(`schema is not ${PRODUCT_FILES_SCHEMA}`);
  if (typeof v.name !== 'string' || typeof v.version !== 'string') {
    throw invalid('name and version must be strings');
  }
  const files = v.files;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) {
    throw invalid('files is not an object');
  }
  const entries = Object.entries(files as Record<string, unknown>);
  if (entries.length > MAX_PRODUCT_FILE_COUNT) {
    throw invalid(`more than ${MAX_PRODUCT_FILE_COUNT} files`);
  }
  const out: Record<string, ProductFile> = {};
  for (const [path, file] of entries) {
    checkPath(path);
    const f = file as Partial<Record<keyof ProductFile, unknown>> | null;
    if (
      typeof f !== 'object' ||
      f === null ||
      Object.keys(f).sort().join() !== 'executable,sha256,size' ||
      typeof f.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(f.sha256) ||
      typeof f.size !== 'number' ||
      !Number.isSafeInteger(f.size) ||
      f.size < 0 ||
      typeof f.executable !== 'boolean'
    ) {
      throw invalid(`${path} is not {sha256, size, executable}`);
    }
    out[path] = { sha256: f.sha256, size: f.size, executable: f.executable };
  }
  return { schema: PRODUCT_FILES_SCHEMA, name: v.name, version: v.version, files: out };
}

/** A relative POSIX path whose segments are neither empty nor `.`/`..`, without control characters. */
function checkPath(path: string): void {
  if (
    path === '' ||
    path.length > MAX_PATH_BYTES ||
    path.startsWith('/') ||
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f\\]/.test(path) ||
    path.split('/').some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw invalid(`unsafe path ${JSON.stringify(path)}`);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function invalid(message: string): ReleaseFormatError {
  return new ReleaseFormatError('PRODUCT_FILES_INVALID', message);
}
