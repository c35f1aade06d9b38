/**
 * Product updates: the agent's own code, released as an npm-pack tarball
 * with its file manifest, through the same checks as rules
 * (`verifyNewestRelease`: TUF with both signatures, the release-log receipt
 * under the witness policy and its consistency, the VSA and provenance of
 * both artifacts), then:
 *
 *  4. unpack into a new version directory and check the tree read back
 *     against the file manifest (product-install.ts);
 *  5. the new version's self-check, run from its directory
 *     (product-selfcheck.ts); a version that fails is removed, never current;
 *  6. switch `current` atomically, the old version becomes `previous`.
 *
 * The running process is not touched: the switch takes effect when the
 * agent next starts from `DIR/product/current`. A release older than the
 * current version is refused (AGENT_RELEASE_ROLLBACK) unless every one of
 * its artifacts carries `custom.rollback: true` in the releases role, which
 * needs both the vendor's and the supervisor's signature (TUF 5.6 through
 * tuf-js): a supervisor-signed rollback release.
 */
import { rm } from 'node:fs/promises';
import {
  MAX_PRODUCT_FILES_BYTES,
  parseProductFiles,
  productFilesName,
  productTarballName,
  type ProductFiles,
} from '@glasshouse/release-format';
import { loadAgent, type Agent } from './config.js';
import { AgentError } from './errors.js';
import { activeRulesDir } from './install.js';
import {
  MAX_PRODUCT_TARBALL_BYTES,
  productLink,
  productSlotDir,
  productSlotName,
  productVersionOf,
  pruneProductVersions,
  replaceProductLinks,
  stageProduct,
  switchProduct,
  verifyProductTree,
} from './product-install.js';
import { selfCheckProduct } from './product-selfcheck.js';
import {
  readState,
  writeState,
  type ProductState,
  type ReleaseRef,
  type SeenCheckpoint,
} from './state.js';
import type { VerifiedTarget } from './tuf.js';
import { verifyNewestRelease, type StateChanges, type UpdateOptions } from './update.js';

export type ProductUpdateOptions = Pick<UpdateOptions, 'dir' | 'fetch' | 'onProgress' | 'now'> & {
  /** Per self-check run; default SELFCHECK_TIMEOUT_MS. */
  readonly selfCheckTimeoutMs?: number;
};

export type ProductUpdateOutcome =
  | {
      readonly status: 'installed';
      readonly release: ReleaseRef;
      readonly slot: string;
      readonly path: string;
      readonly previousSlot: string | undefined;
      readonly downgrade: boolean;
      readonly checkpoint: SeenCheckpoint;
      readonly scannedCases: number;
    }
  | { readonly status: 'up-to-date'; readonly version: string }
  /** The newest version is the one `agent rollback` left. */
  | { readonly status: 'held-back'; readonly version: string };

/** Runs one product update of DIR (see the module comment). Throws the first failure's AgentError. */
export async function updateProduct(options: ProductUpdateOptions): Promise<ProductUpdateOutcome> {
  const agent = await loadAgent(options.dir);
  const now = options.now ?? (() => new Date());
  const previous = await readState(agent.paths);
  const changes: StateChanges = {};
  const product: { -readonly [K in keyof ProductState]: ProductState[K] } = {
    ...previous.product,
  };
  let outcome: ProductUpdateOutcome;
  try {
    outcome = await runProductUpdate(agent, options, changes, product);
  } catch (err) {
    const coded =
      err instanceof AgentError
        ? err
        : new AgentError('AGENT_INSTALL_FAILED', 'the product update failed', { cause: err });
    product.lastUpdate = {
      result: 'refused',
      at: now().toISOString(),
      code: coded.code,
      message: coded.message,
      version: (coded.evidence?.version as string | undefined) ?? undefined,
    };
    await writeState(agent.paths, { ...(await readState(agent.paths)), ...changes, product });
    throw coded;
  }
  const at = now().toISOString();
  product.lastUpdate =
    outcome.status === 'installed'
      ? { result: 'installed', at, release: outcome.release, slot: outcome.slot }
      : { result: 'up-to-date', at, version: outcome.version };
  await writeState(agent.paths, { ...(await readState(agent.paths)), ...changes, product });
  return outcome;
}

async function runProductUpdate(
  agent: Agent,
  options: ProductUpdateOptions,
  changes: StateChanges,
  product: { -readonly [K in keyof ProductState]: ProductState[K] },
): Promise<ProductUpdateOutcome> {
  const { config, paths } = agent;
  if (config.product === undefined) {
    throw new AgentError(
      'AGENT_PRODUCT_NOT_CONFIGURED',
      `${agent.dir} follows no product release; init the agent with a product name`,
    );
  }
  const { name, source } = config.product;
  const progress = options.onProgress ?? (() => undefined);
  const current = await productLink(paths.productCurrent);
  const installed =
    current === undefined ? undefined : await productVersionOf(productSlotDir(paths, current));
  const verified = await verifyNewestRelease(agent, options, await readState(paths), changes, {
    name,
    source,
    installedVersion: installed?.version,
    // A rollback release: every artifact marked in the releases role both organisations signed.
    allowsDowngrade: (release) => release.artifacts.every((a) => a.custom.rollback === true),
    artifacts: (release, version) => {
      const byName = (file: string): VerifiedTarget => {
        const found = release.artifacts.find((a) => a.name === `${name}/${version}/${file}`);
        if (found === undefined) {
          throw new AgentError('AGENT_RELEASE_INCOMPLETE', `${name} ${version} has no ${file}`, {
            evidence: { version },
          });
        }
        return found;
      };
      return [
        byName(productTarballName({ name, version })),
        byName(productFilesName({ name, version })),
      ];
    },
  });
  if (verified.status === 'up-to-date') return verified;
  const { version, release, tuf } = verified;
  if (!verified.downgrade && product.rolledBackFrom === version) {
    progress(`${name} ${version} was rolled back on this endpoint; it waits for a newer release`);
    return { status: 'held-back', version };
  }
  const [tarballTarget, filesTarget] = verified.artifacts;
  if (tarballTarget === undefined || filesTarget === undefined) {
    throw new AgentError('AGENT_RELEASE_INCOMPLETE', `${name} ${version}: artifacts missing`);
  }

  // 4. Unpack and check the tree against the file manifest.
  let manifest: ProductFiles;
  try {
    manifest = parseProductFiles(await tuf.download(filesTarget, MAX_PRODUCT_FILES_BYTES));
  } catch (cause) {
    if (cause instanceof AgentError) throw cause;
    throw new AgentError('AGENT_PRODUCT_INVALID', 'the file manifest does not parse', { cause });
  }
  const tarball = await tuf.download(tarballTarget, MAX_PRODUCT_TARBALL_BYTES);
  const ref: ReleaseRef = {
    name,
    version,
    releaseId: release.releaseId,
    sha256: tarballTarget.sha256,
  };
  const slot = productSlotName(ref);
  let path: string | undefined;
  let scannedCases: number;
  try {
    ({ path } = await stageProduct(paths, ref, tarball, manifest));
    await verifyProductTree(path, manifest);
    progress(`unpacked ${slot}: ${Object.keys(manifest.files).length} files as the manifest lists`);
    // 5. The new code's self-check.
    ({ scannedCases } = await selfCheckProduct({
      dir: path,
      manifest,
      agentDir: agent.dir,
      rulesDir: await activeRulesDir(agent.dir),
      ...(options.selfCheckTimeoutMs === undefined
        ? {}
        : { timeoutMs: options.selfCheckTimeoutMs }),
    }));
  } catch (err) {
    if (path !== undefined) await rm(path, { recursive: true, force: true });
    product.failed = {
      slot,
      release: ref,
      reason: err instanceof AgentError ? err.code : 'AGENT_INSTALL_FAILED',
    };
    throw err;
  }
  progress(
    `self-check: ${version} --version answered, and its scan of ${scannedCases} rules self-test samples matched the manifest`,
  );

  // 6. Switch.
  const before = await switchProduct(paths, slot);
  await pruneProductVersions(paths, [slot, before]);
  product.failed = undefined;
  product.rolledBackFrom = undefined;
  progress(`current: ${slot} (takes effect when the agent next starts)`);
  return {
    status: 'installed',
    release: ref,
    slot,
    path,
    previousSlot: before,
    downgrade: verified.downgrade,
    checkpoint: verified.checkpoint,
    scannedCases,
  };
}

/**
 * `agent rollback`: makes the previous version current again and the
 * current one previous (two atomic link switches); the version left is
 * not reinstalled by `agent update` until a newer one is published.
 */
export async function rollbackProduct(options: {
  readonly dir: string;
  readonly now?: () => Date;
}): Promise<{ from: string; to: string }> {
  const agent = await loadAgent(options.dir);
  const { paths } = agent;
  const current = await productLink(paths.productCurrent);
  const previous = await productLink(paths.productPrevious);
  if (current === undefined || previous === undefined || previous === current) {
    throw new AgentError(
      'AGENT_NO_PREVIOUS_VERSION',
      'there is no previous product version to return to',
    );
  }
  const from = await productVersionOf(productSlotDir(paths, current));
  await replaceProductLinks(paths, { current: previous, previous: current });
  const state = await readState(paths);
  await writeState(paths, {
    ...state,
    product: {
      ...state.product,
      rolledBackFrom: from?.version,
      lastUpdate: {
        result: 'rolled-back',
        at: (options.now ?? (() => new Date()))().toISOString(),
        from: current,
        to: previous,
      },
    },
  });
  return { from: current, to: previous };
}
