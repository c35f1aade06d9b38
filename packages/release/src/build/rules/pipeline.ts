import { join } from 'node:path';
import { BundleError, type RuleSource } from '@glasshouse/bundle';
import { ReleaseError } from '../../errors.js';
import { hashSourceTree } from '../source-tree.js';
import { scanCases, type ScanCase } from './cases.js';
import { debianCrossCheck } from './debian-check.js';
import { Budget, readTree, type InputFile } from './inputs.js';
import { packageRules } from './package.js';
import {
  DEFAULT_RULES_LIMITS,
  type CrossCheck,
  type RulesBuildResult,
  type RulesJobOptions,
} from './types.js';
import { publicRuleNames, startCompile, testCompiled } from './yara-x-tests.js';

/**
 * The rules build, run inside the build process (`child.ts`): read and
 * bound the inputs (and hash the source tree, reusing those bytes), compile
 * with YARA-X once and run every sample and clean file through it in the
 * engine process while Debian `yarac`/`yara` do the same cross-check at the
 * same time, then package the deterministic tar with its manifest. Any
 * failure throws a `ReleaseError` naming the rule and/or file; when both
 * engines fail, YARA-X's failure is the one reported.
 */
export async function runRulesPipeline(
  options: RulesJobOptions,
  onProgress: (message: string) => void,
): Promise<RulesBuildResult> {
  try {
    return await pipeline(options, onProgress);
  } catch (err) {
    // The build reports the format's and the engine's failures as its own, code unchanged.
    if (!(err instanceof BundleError)) throw err;
    throw new ReleaseError(err.code, err.message, {
      cause: err,
      ...(err.evidence === undefined ? {} : { evidence: { ...err.evidence } }),
    });
  }
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}

async function pipeline(
  options: RulesJobOptions,
  onProgress: (message: string) => void,
): Promise<RulesBuildResult> {
  const { recipe, sourceDir, sourceDateEpoch } = options;
  const limits = options.limits ?? DEFAULT_RULES_LIMITS;
  const log: string[] = [];
  const progress = (message: string): void => {
    log.push(message);
    onProgress(message);
  };
  if (
    !Number.isSafeInteger(sourceDateEpoch) ||
    sourceDateEpoch < 0 ||
    sourceDateEpoch > 0o77777777777
  ) {
    throw new ReleaseError('RULES_BAD_EPOCH', `SOURCE_DATE_EPOCH out of range: ${sourceDateEpoch}`);
  }

  // 1. The rules, then their compile at once (engine processes), while this process reads the rest.
  const started = performance.now();
  const budget = new Budget(limits);
  const { inputs } = recipe;
  const ruleTree = readTree(
    join(sourceDir, inputs.rules),
    inputs.rules,
    budget,
    limits.maxRuleFileBytes,
  );
  const ruleFiles = ruleTree.filter((f) => f.rel.endsWith('.yar'));
  for (const f of ruleTree)
    if (!f.rel.endsWith('.yar')) progress(`ignoring ${inputs.rules}/${f.rel} (not .yar)`);
  if (ruleFiles.length === 0)
    throw new ReleaseError('RULES_EMPTY', `no .yar files under ${inputs.rules}`);
  const rulesBytes = ruleFiles.reduce((n, f) => n + f.data.length, 0);
  if (rulesBytes > limits.maxRulesBytes)
    throw new ReleaseError('RULES_TOO_LARGE', 'rule sources over the limit');
  const sources: RuleSource[] = ruleFiles.map((f) => {
    const path = `rules/${f.rel}`;
    try {
      return { path, text: new TextDecoder('utf-8', { fatal: true }).decode(f.data) };
    } catch (cause) {
      throw new ReleaseError('RULES_SYNTAX', `${inputs.rules}/${f.rel}: not UTF-8`, {
        cause,
        evidence: { file: path },
      });
    }
  });
  // Every public rule has a sample: their count sizes the engine processes.
  const names = earlyNames(sources);
  const stop = new AbortController();
  const compiling = startCompile(
    options,
    sources,
    names?.publicNames.length ?? 0,
    progress,
    stop.signal,
  );
  // Reported by testCompiled below, or dropped when the build stops first.
  compiling.catch(() => undefined);

  let sampleTree: InputFile[];
  let cleanTree: InputFile[];
  let materials: Record<string, string> | undefined;
  const samplesRoot = join(sourceDir, inputs.samples);
  const cleanRoot = join(sourceDir, inputs.clean);
  try {
    sampleTree = readTree(samplesRoot, inputs.samples, budget, limits.maxSampleBytes);
    cleanTree = readTree(cleanRoot, inputs.clean, budget, limits.maxSampleBytes);
    if (cleanTree.length === 0)
      throw new ReleaseError('RULES_EMPTY', `no clean files under ${inputs.clean}`);
    progress(
      `read ${ruleFiles.length} rule files, ${sampleTree.length} samples, ${cleanTree.length} clean files in ${seconds(started)} s`,
    );
    if (options.hashSource === true) {
      const t = performance.now();
      const known = new Map<string, Uint8Array>();
      for (const f of [...ruleTree, ...sampleTree, ...cleanTree]) known.set(f.abs, f.data);
      materials = await hashSourceTree(sourceDir, known);
      progress(`source: ${Object.keys(materials).length} files hashed in ${seconds(t)} s`);
    }
  } catch (err) {
    stop.abort();
    throw err;
  }

  // 2. Debian yara (its own processes) while YARA-X compiles and tests.
  const early = earlyCases(names, inputs.samples, sampleTree, cleanTree);
  const debian = (
    cases: readonly ScanCase[],
    publicNames: readonly string[],
  ): Promise<CrossCheck> =>
    debianCrossCheck(
      options,
      sources,
      publicNames,
      cases,
      [samplesRoot, cleanRoot],
      progress,
      stop.signal,
    );
  const debianEarly =
    early === undefined ? undefined : settle(debian(early.cases, early.publicNames));
  let tested;
  try {
    tested = await testCompiled(compiling, options, sources, sampleTree, cleanTree, progress);
  } catch (err) {
    stop.abort();
    await debianEarly;
    throw err;
  }
  const crossed = await (debianEarly ?? settle(debian(tested.cases, tested.publicNames)));
  if (!crossed.ok) throw crossed.error;

  // 3. Package.
  const t = performance.now();
  const packaged = packageRules(
    recipe,
    sourceDateEpoch,
    options.gzip === true,
    sources,
    ruleFiles,
    tested.engine,
    tested.publicNames,
    tested.cases,
  );
  progress(
    `bundle ${recipe.name}-${recipe.version}: ${packaged.files} files, ${packaged.bundle.length} bytes, sha256:${packaged.digest.sha256} (tar in ${seconds(t)} s)`,
  );
  return {
    bundle: packaged.bundle,
    digest: packaged.digest,
    manifest: packaged.manifest,
    crossCheck: crossed.value,
    engine: tested.engine,
    log,
    ...(materials === undefined ? {} : { materials }),
  };
}

/**
 * The public rule names from the sources alone (the lexer, before YARA-X
 * has compiled); undefined when they do not come out (the YARA-X step then
 * reports why, in its order).
 */
function earlyNames(sources: readonly RuleSource[]): { publicNames: string[] } | undefined {
  try {
    return publicRuleNames(sources);
  } catch {
    return undefined; // reported by testCompiled after the compile, as before
  }
}

/** The sample and clean-file cases, so that the Debian cross-check can start before YARA-X has compiled. */
function earlyCases(
  names: { publicNames: string[] } | undefined,
  samplesDir: string,
  sampleTree: readonly InputFile[],
  cleanTree: readonly InputFile[],
): { cases: ScanCase[]; publicNames: string[] } | undefined {
  if (names === undefined) return undefined;
  try {
    return {
      cases: scanCases(samplesDir, sampleTree, cleanTree, names.publicNames),
      publicNames: names.publicNames,
    };
  } catch {
    return undefined; // reported by testCompiled after the compile, as before
  }
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(2);
}
