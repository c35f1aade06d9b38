/**
 * Installing a product release (an npm-pack tarball): unpack it into a new
 * versioned directory next to the current one, check the unpacked tree
 * against the release's file manifest, and switch the `current` link
 * atomically; the version it replaces stays as `previous` for rollback.
 *
 *     DIR/product/versions/<name>-<version>-<sha256[0:12]>/   the package's files
 *     DIR/product/current  -> versions/<slot>
 *     DIR/product/previous -> versions/<slot>
 *
 * Extraction is safe by construction: the tarball is gunzipped with an
 * output cap and read with the bundle package's strict ustar reader
 * (regular files only, so no links; relative paths without `.`/`..`;
 * bounded sizes and counts), every file must be under `package/`, and
 * every write is checked to land inside the staging directory and made
 * with O_EXCL. A crash leaves a `.staging-*` directory (removed by the
 * next install) and the links as they were.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, readlink, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { sha256Hex } from '@glasshouse/attest';
import { readTarArchive } from '@glasshouse/bundle';
import { syncDir } from '@glasshouse/durable';
import { NPM_PACK_ROOT, PRODUCT_TAR_LIMITS, type ProductFiles } from '@glasshouse/release-format';
import type { AgentPaths } from './config.js';
import { AgentError } from './errors.js';
import { errnoOf, replaceSymlink } from './files.js';

/** Most bytes of the compressed tarball. */
export const MAX_PRODUCT_TARBALL_BYTES = 128 * 1024 * 1024;

export type ProductPaths = Pick<
  AgentPaths,
  'product' | 'productVersions' | 'productCurrent' | 'productPrevious'
>;

export interface ProductRef {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
}

/** `<name>-<version>-<first 12 hex of the tarball's SHA-256>`. */
export function productSlotName(ref: ProductRef): string {
  return `${ref.name}-${ref.version}-${ref.sha256.slice(0, 12)}`;
}

/** The absolute path of a product version directory. */
export function productSlotDir(paths: ProductPaths, slot: string): string {
  return join(resolve(paths.productVersions), slot);
}

/** The slot a product link (`current`, `previous`) names, or undefined when there is none. */
export async function productLink(link: string): Promise<string | undefined> {
  let target: string;
  try {
    target = await readlink(link);
  } catch (cause) {
    if (errnoOf(cause) === 'ENOENT') return undefined;
    throw new AgentError('AGENT_INSTALL_FAILED', `cannot read ${link}`, { cause });
  }
  const m = /^versions\/([^/]+)$/.exec(target);
  if (m?.[1] === undefined || m[1].startsWith('.')) {
    throw new AgentError('AGENT_INSTALL_FAILED', `${link} points outside the versions`, {
      evidence: { target },
    });
  }
  return m[1];
}

/** The name and version in a product directory's package.json, when it has a readable one. */
export async function productVersionOf(
  dir: string,
): Promise<{ name: string; version: string } | undefined> {
  try {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
      name?: unknown;
      version?: unknown;
    };
    if (typeof pkg.name !== 'string' || typeof pkg.version !== 'string') return undefined;
    return { name: pkg.name, version: pkg.version };
  } catch {
    return undefined; // a damaged version directory has no version to show; status says so
  }
}

/**
 * Checks the tarball against the file manifest and unpacks it into a new
 * version directory (not yet current). Throws AGENT_PRODUCT_INVALID for a
 * tarball that does not read safely, AGENT_PRODUCT_MANIFEST_MISMATCH when
 * its files are not exactly the manifest's.
 */
export async function stageProduct(
  paths: ProductPaths,
  ref: ProductRef,
  tarball: Uint8Array,
  manifest: ProductFiles,
): Promise<{ slot: string; path: string }> {
  if (manifest.name !== ref.name || manifest.version !== ref.version) {
    throw new AgentError('AGENT_PRODUCT_INVALID', 'the file manifest is of another release', {
      evidence: { manifest: { name: manifest.name, version: manifest.version }, release: ref },
    });
  }
  let entries;
  try {
    // Gunzip with a cap: a decompression bomb stops before it fills memory.
    entries = readTarArchive(tarball, PRODUCT_TAR_LIMITS);
  } catch (cause) {
    throw new AgentError('AGENT_PRODUCT_INVALID', 'the product tarball does not unpack safely', {
      cause,
    });
  }
  const files = new Map<string, { data: Uint8Array; executable: boolean }>();
  for (const entry of entries) {
    if (!entry.path.startsWith(NPM_PACK_ROOT)) {
      throw new AgentError('AGENT_PRODUCT_INVALID', `${entry.path} is not under ${NPM_PACK_ROOT}`, {
        evidence: { path: entry.path },
      });
    }
    files.set(entry.path.slice(NPM_PACK_ROOT.length), {
      data: entry.data,
      executable: (entry.mode & 0o111) !== 0,
    });
  }
  checkAgainstManifest(
    new Map(
      [...files].map(([p, f]) => [p, { sha256: sha256Hex(f.data), executable: f.executable }]),
    ),
    manifest,
  );

  const slot = productSlotName(ref);
  const path = join(paths.productVersions, slot);
  if ((await productLink(paths.productCurrent)) === slot) {
    throw new AgentError('AGENT_INSTALL_FAILED', `version ${slot} is the current one`);
  }
  await mkdir(paths.productVersions, { recursive: true });
  const staging = join(paths.productVersions, `.staging-${randomBytes(6).toString('hex')}`);
  const root = resolve(staging);
  try {
    await mkdir(staging);
    const dirs = new Set<string>([root]);
    for (const [rel, file] of files) {
      const target = resolve(staging, rel);
      // readTar refused unsafe paths already; this keeps every write inside regardless.
      if (!target.startsWith(`${root}${sep}`)) {
        throw new AgentError('AGENT_PRODUCT_INVALID', `${rel} is outside the version directory`);
      }
      const parent = dirname(target);
      if (!dirs.has(parent)) {
        await mkdir(parent, { recursive: true });
        for (let d = parent; d.startsWith(root); d = dirname(d)) dirs.add(d);
      }
      const handle = await open(target, 'wx', file.executable ? 0o755 : 0o644);
      try {
        await handle.writeFile(file.data);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    for (const d of dirs) await syncDir(d);
    await rm(path, { recursive: true, force: true });
    await rename(staging, path);
    await syncDir(paths.productVersions);
  } catch (cause) {
    await rm(staging, { recursive: true, force: true });
    if (cause instanceof AgentError) throw cause;
    throw new AgentError('AGENT_INSTALL_FAILED', `cannot unpack the product into ${slot}`, {
      cause,
    });
  }
  return { slot, path };
}

/**
 * The unpacked tree, read back from disk, against the manifest: only
 * directories and regular files (a symlink or other file type is refused),
 * every file listed with its digest and executable bit, none missing.
 */
export async function verifyProductTree(dir: string, manifest: ProductFiles): Promise<void> {
  const found = new Map<string, { sha256: string; executable: boolean }>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(dir, rel))) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const info = await lstat(join(dir, path));
      if (info.isDirectory()) await walk(path);
      else if (info.isFile()) {
        found.set(path, {
          sha256: sha256Hex(new Uint8Array(await readFile(join(dir, path)))),
          executable: (info.mode & 0o111) !== 0,
        });
      } else {
        throw new AgentError(
          'AGENT_PRODUCT_MANIFEST_MISMATCH',
          `${path} is not a regular file or directory`,
          { evidence: { path } },
        );
      }
      if (found.size > PRODUCT_TAR_LIMITS.maxEntries) {
        throw new AgentError('AGENT_PRODUCT_MANIFEST_MISMATCH', 'too many files');
      }
    }
  };
  try {
    await walk('');
  } catch (cause) {
    if (cause instanceof AgentError) throw cause;
    throw new AgentError('AGENT_INSTALL_FAILED', `cannot read ${dir} back`, { cause });
  }
  checkAgainstManifest(found, manifest);
}

/** Exactly the manifest's files, each with its digest and executable bit. */
function checkAgainstManifest(
  files: ReadonlyMap<string, { sha256: string; executable: boolean }>,
  manifest: ProductFiles,
): void {
  const mismatch = (message: string, path: string): AgentError =>
    new AgentError('AGENT_PRODUCT_MANIFEST_MISMATCH', message, { evidence: { path } });
  for (const [path, file] of files) {
    const want = manifest.files[path];
    if (want === undefined) throw mismatch(`${path} is not in the file manifest`, path);
    if (want.sha256 !== file.sha256) {
      throw mismatch(`${path} differs from the file manifest's digest`, path);
    }
    if (want.executable !== file.executable) {
      throw mismatch(`${path} differs from the file manifest's mode`, path);
    }
  }
  for (const path of Object.keys(manifest.files)) {
    if (!files.has(path)) throw mismatch(`${path} of the file manifest is missing`, path);
  }
}

/**
 * Makes `slot` current; the current version becomes `previous`. Each link
 * is switched by an atomic rename, `previous` first: a crash in between
 * leaves both naming the old version, which is still current.
 */
export async function switchProduct(
  paths: ProductPaths,
  slot: string,
): Promise<string | undefined> {
  const current = await productLink(paths.productCurrent);
  try {
    if (current !== undefined && current !== slot) {
      await replaceSymlink(paths.productPrevious, `versions/${current}`);
    }
    await replaceSymlink(paths.productCurrent, `versions/${slot}`);
  } catch (cause) {
    throw new AgentError('AGENT_INSTALL_FAILED', `cannot make ${slot} current`, { cause });
  }
  return current;
}

/**
 * `agent rollback`'s switch: `current` first, then `previous`, each an
 * atomic rename; a crash in between leaves both naming the version
 * rolled back to.
 */
export async function replaceProductLinks(
  paths: ProductPaths,
  links: { readonly current: string; readonly previous: string },
): Promise<void> {
  try {
    await replaceSymlink(paths.productCurrent, `versions/${links.current}`);
    await replaceSymlink(paths.productPrevious, `versions/${links.previous}`);
  } catch (cause) {
    throw new AgentError('AGENT_INSTALL_FAILED', `cannot make ${links.current} current`, {
      cause,
    });
  }
}

/** Removes every version directory but those named, and leftover staging directories. */
export async function pruneProductVersions(
  paths: ProductPaths,
  keep: readonly (string | undefined)[],
): Promise<void> {
  let names: string[];
  try {
    names = await readdir(paths.productVersions);
  } catch (cause) {
    if (errnoOf(cause) === 'ENOENT') return;
    throw cause;
  }
  for (const name of names) {
    if (!keep.includes(name)) {
      await rm(join(paths.productVersions, name), { recursive: true, force: true });
    }
  }
}
