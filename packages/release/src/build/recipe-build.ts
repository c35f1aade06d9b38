/**
 * One build of a recipe at a commit, the same way for the vendor's assembly
 * line and for the supervisor's rebuild: check the commit out, read and
 * parse its recipe, hash the source tree (the in-toto link's materials), run
 * the recipe (a rules bundle, or the recipe's commands in the sandbox, plus
 * the file manifest of a product's npm-pack tarball) and return the
 * artifacts' bytes. Both sides running this one function is what
 * makes "the same recipe in its own sandbox" true by construction.
 */
import { lstat, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '@glasshouse/attest';
import { rulesBundleName } from '@glasshouse/release-format';
import { ReleaseError } from '../errors.js';
import { checkoutCommit } from './git.js';
import type { BuildFacts } from './provenance.js';
import { MAX_RECIPE_BYTES, parseRecipe, RECIPE_FILE, type Recipe } from './recipe.js';
import { buildRulesBundle, type DebianYaraMode } from './rules.js';
import { runBuild, type SandboxInfo } from './sandbox.js';
import { hashSourceTree } from './source-tree.js';
import { productFilesArtifact } from './product-files.js';
import { buildVerdictList } from './verdicts.js';

export { hashSourceTree, MAX_SOURCE_BYTES, MAX_SOURCE_FILES } from './source-tree.js';
const MAX_PROGRESS_LINE = 2000;

export interface RecipeBuildOptions {
  /** The source repository, as `normalizeSourceUri` returns it. */
  readonly source: string;
  /** Full 40-hex commit. */
  readonly commit: string;
  readonly sandbox: SandboxInfo;
  /** Debian yara cross-check of rules builds; default 'auto'. */
  readonly debianYara?: DebianYaraMode;
  /** Per command of a `command` build; default 10 minutes. */
  readonly commandTimeoutMs?: number;
  /** Per git process; default 120 s. */
  readonly gitTimeoutMs?: number;
  /** Scratch space for the checkout and outputs; default the OS temp dir. */
  readonly scratchDir?: string;
  readonly onProgress?: (message: string) => void;
  /**
   * Aborting stops a running build at once: a rules build's process group
   * (`RULES_CANCELLED`), a command recipe's sandboxed process group
   * (`SANDBOX_CANCELLED`).
   */
  readonly signal?: AbortSignal;
}

export interface BuiltOutput {
  /** The bundle's file name (rules) or the declared output path (command). */
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly sha256: string;
}

export interface RecipeBuildResult {
  readonly recipe: Recipe;
  /** SHA-256 of the recipe file's bytes. */
  readonly recipeSha256: string;
  /** The commit's committer time, exported to the build as SOURCE_DATE_EPOCH. */
  readonly sourceDateEpoch: number;
  /** SHA-256 of every regular source file by relative path (the link's materials). */
  readonly materials: Readonly<Record<string, string>>;
  readonly artifacts: readonly BuiltOutput[];
  readonly isolated: boolean;
  readonly sandbox: BuildFacts['sandbox'];
  readonly engines: Readonly<Record<string, string>>;
}

/**
 * Builds `commit` of `source`. Every failure is a coded ReleaseError (git,
 * recipe, rules or sandbox codes); the checkout is removed in every case
 * (after a success, in the background: see `checkoutsRemoved`).
 */
export async function buildRecipeAtCommit(options: RecipeBuildOptions): Promise<RecipeBuildResult> {
  const progress = options.onProgress ?? (() => undefined);
  const checkout = await checkoutCommit({
    source: options.source,
    commit: options.commit,
    onProgress: progress,
    ...(options.scratchDir === undefined ? {} : { parentDir: options.scratchDir }),
    ...(options.gitTimeoutMs === undefined ? {} : { timeoutMs: options.gitTimeoutMs }),
  });
  try {
    const recipeBytes = await readRecipeFile(checkout.dir);
    const recipe = parseRecipe(recipeBytes);
    const recipeSha256 = sha256Hex(recipeBytes);
    progress(`recipe: ${recipe.kind} ${recipe.name} ${recipe.version} (sha256 ${recipeSha256})`);
    // A rules build hashes the tree in its build process, reusing the bytes it reads anyway.
    let materials: Record<string, string> | undefined;
    if (recipe.kind !== 'rules') {
      materials = await hashSourceTree(checkout.dir);
      progress(`source: ${Object.keys(materials).length} files hashed`);
    }
    const built = await runRecipe(recipe, checkout.dir, checkout.root, checkout.sourceDateEpoch, {
      ...options,
      onProgress: progress,
    });
    const allMaterials = materials ?? built.materials;
    if (allMaterials === undefined) {
      throw new ReleaseError('RULES_ENGINE_FAILED', 'the rules build returned no materials');
    }
    removeInBackground(() => checkout.remove());
    return {
      recipe,
      recipeSha256,
      sourceDateEpoch: checkout.sourceDateEpoch,
      ...built,
      materials: allMaterials,
    };
  } catch (err) {
    await checkout.remove();
    throw err;
  }
}

const removals = new Set<Promise<void>>();

/**
 * A successful build does not wait for its checkout to be deleted: with ten
 * thousand files on a slow disk that can take longer than the build. The
 * deletion goes on in the background; `checkoutsRemoved()` waits for it.
 */
function removeInBackground(remove: () => Promise<void>): void {
  const removal = remove()
    .catch(() => undefined) // a leftover scratch directory is not a build failure
    .finally(() => removals.delete(removal));
  removals.add(removal);
}

/** Resolves once every checkout of a finished build is deleted (for a clean exit and tests). */
export async function checkoutsRemoved(): Promise<void> {
  await Promise.all([...removals]);
}

async function runRecipe(
  recipe: Recipe,
  sourceDir: string,
  scratchRoot: string,
  sourceDateEpoch: number,
  options: RecipeBuildOptions & { onProgress: (message: string) => void },
): Promise<
  Pick<RecipeBuildResult, 'artifacts' | 'isolated' | 'sandbox' | 'engines'> & {
    readonly materials?: Readonly<Record<string, string>>;
  }
> {
  const progress = options.onProgress;
  if (recipe.kind === 'rules') {
    const result = await buildRulesBundle({
      sourceDir,
      recipe,
      sourceDateEpoch,
      onProgress: progress,
      debianYara: options.debianYara ?? 'auto',
      tmpDir: scratchRoot,
      hashSource: true,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    // YARA-X's version (as in the manifest) and the package that provided it (native or wasm).
    const engines: Record<string, string> = { ...result.manifest.engines };
    const at = result.engine.package.lastIndexOf('@');
    engines[result.engine.package.slice(0, at)] = result.engine.package.slice(at + 1);
    if (result.crossCheck.status === 'passed') engines.yara = result.crossCheck.version;
    return {
      artifacts: [
        { name: rulesBundleName(recipe), bytes: result.bundle, sha256: result.digest.sha256 },
      ],
      // The rules are compiled by YARA-X in a child process: nothing from
      // the source runs, but nothing is sandboxed.
      isolated: false,
      sandbox: { kind: 'none' },
      engines,
      ...(result.materials === undefined ? {} : { materials: result.materials }),
    };
  }
  if (recipe.kind === 'verdicts') {
    // Nothing from the source runs: the list is a pure function of its files.
    const artifact = await buildVerdictList(sourceDir, recipe, progress);
    return { artifacts: [artifact], isolated: false, sandbox: { kind: 'none' }, engines: {} };
  }
  const { sandbox } = options;
  if (sandbox.kind === 'none') {
    progress(`sandbox: none (${sandbox.reason}); the build is NOT isolated`);
  } else {
    progress(`sandbox: bubblewrap ${sandbox.version}`);
  }
  const outputDir = join(scratchRoot, 'out');
  const pending = new Map<string, string>();
  const result = await runBuild({
    sourceDir,
    outputDir,
    outputs: recipe.outputs,
    commands: recipe.commands,
    sourceDateEpoch,
    timeoutMs: options.commandTimeoutMs ?? 600_000,
    sandbox,
    scratchParent: scratchRoot,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    onOutput: (chunk) => {
      // Whole lines only, so progress never splits a line of the build's output.
      const key = `${chunk.step}:${chunk.stream}`;
      const text = (pending.get(key) ?? '') + chunk.data.toString('utf8');
      const parts = text.split('\n');
      pending.set(key, (parts.pop() ?? '').slice(-MAX_PROGRESS_LINE));
      for (const line of parts) progress(`[${chunk.step + 1} ${chunk.stream}] ${line}`);
    },
  });
  for (const [key, rest] of pending) {
    if (rest !== '') progress(`[${key.replace(':', ' ')}] ${rest}`);
  }
  const artifacts: BuiltOutput[] = [];
  for (const output of result.outputs) {
    const bytes = await readFile(join(outputDir, output.path));
    if (sha256Hex(bytes) !== output.sha256) {
      throw new ReleaseError('SANDBOX_IO', `output ${output.path} changed after the build`);
    }
    artifacts.push({ name: output.path, bytes, sha256: output.sha256 });
  }
  // An npm-pack tarball of the recipe's name and version gets its file manifest beside it.
  const manifest = productFilesArtifact(recipe, artifacts);
  if (manifest !== undefined) {
    artifacts.push(manifest);
    progress(`${manifest.name}: the tarball's file manifest (sha256 ${manifest.sha256})`);
  }
  return {
    artifacts,
    isolated: result.isolated,
    sandbox:
      result.sandbox.kind === 'bubblewrap'
        ? { kind: 'bubblewrap', version: result.sandbox.version }
        : { kind: 'none' },
    engines: {},
  };
}

async function readRecipeFile(sourceDir: string): Promise<Uint8Array> {
  const path = join(sourceDir, RECIPE_FILE);
  let info;
  try {
    info = await lstat(path);
  } catch (cause) {
    throw new ReleaseError('RECIPE_MISSING', `the commit has no ${RECIPE_FILE} at its root`, {
      cause,
    });
  }
  if (!info.isFile()) {
    throw new ReleaseError('RECIPE_MISSING', `${RECIPE_FILE} is not a regular file`);
  }
  // parseRecipe refuses anything over MAX_RECIPE_BYTES; read no more than one byte past it.
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(MAX_RECIPE_BYTES + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
