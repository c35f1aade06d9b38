/**
 * The file manifest of a product release, made by the build itself: when a
 * `command` recipe's outputs include the npm-pack tarball of the recipe's
 * own name and version (`<name>-<version>.tgz`), the build reads that
 * tarball back with the strict tar reader and adds
 * `<name>-<version>.files.json` (release-format's glasshouse.product-files/v1)
 * as one more artifact. It is then a product of the `build` link and a
 * subject of the provenance and VSA like the tarball, and the supervisor's
 * rebuild, running the same code, compares it too.
 */
import { sha256Hex } from '@glasshouse/attest';
import { readTarArchive } from '@glasshouse/bundle';
import {
  NPM_PACK_ROOT,
  PRODUCT_TAR_LIMITS,
  productFilesName,
  productFilesOf,
  productTarballName,
  serializeProductFiles,
} from '@glasshouse/release-format';
import { ReleaseError } from '../errors.js';
import type { CommandRecipe } from './recipe.js';

interface Artifact {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly sha256: string;
}

/**
 * The manifest artifact for `outputs`, or undefined when no output is the
 * recipe's npm-pack tarball. Throws BUILD_PRODUCT_INVALID when that tarball
 * does not read safely, holds a file outside `package/`, or its
 * `package/package.json` names another package or version than the recipe.
 */
export function productFilesArtifact(
  recipe: Pick<CommandRecipe, 'name' | 'version'>,
  outputs: readonly Artifact[],
): Artifact | undefined {
  const tarballName = productTarballName(recipe);
  const tarball = outputs.find((o) => o.name === tarballName);
  if (tarball === undefined) return undefined;
  const invalid = (
    message: string,
    options: { cause?: unknown; evidence?: Record<string, unknown> } = {},
  ): ReleaseError =>
    new ReleaseError('BUILD_PRODUCT_INVALID', `${tarballName}: ${message}`, options);
  let entries;
  try {
    entries = readTarArchive(tarball.bytes, PRODUCT_TAR_LIMITS);
  } catch (cause) {
    throw invalid('not an npm-pack tarball the endpoints can unpack', { cause });
  }
  const pkgEntry = entries.find((e) => e.path === `${NPM_PACK_ROOT}package.json`);
  let pkg: { name?: unknown; version?: unknown } | undefined;
  try {
    pkg =
      pkgEntry === undefined
        ? undefined
        : (JSON.parse(new TextDecoder().decode(pkgEntry.data)) as typeof pkg);
  } catch (cause) {
    throw invalid('package/package.json is not JSON', { cause });
  }
  if (pkg?.name !== recipe.name || pkg.version !== recipe.version) {
    throw invalid(`package/package.json must name ${recipe.name} ${recipe.version}`, {
      evidence: { name: pkg?.name, version: pkg?.version },
    });
  }
  let bytes: Uint8Array;
  try {
    bytes = serializeProductFiles(productFilesOf(recipe, entries));
  } catch (cause) {
    throw invalid('its files cannot be listed safely', { cause });
  }
  return { name: productFilesName(recipe), bytes, sha256: sha256Hex(bytes) };
}
