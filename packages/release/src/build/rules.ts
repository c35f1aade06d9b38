// Over 500 lines: the rules build as one pipeline (load, compile, sample and clean tests, Debian yara cross-check, bundle); each stage is a function here, the engine work runs in its own process.
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { sha256Hex } from '@glasshouse/attest';
import {
  BundleError,
  compareBytes,
  DEFAULT_SCAN_LIMITS,
  EngineProcess,
  declaredRules,
  gzipDeterministic,
  MANIFEST_PATH,
  MANIFEST_SCHEMA,
  serializeManifest,
  matchedRuleNames,
  requireScanTimeout,
  selectYaraEngine,
  writeTar,
  type DeclaredRule,
  type RuleSource,
  type RulesManifest,
  type SelfTestCase,
  type TarEntry,
  type EngineChoice,
  type EngineDescription,
} from '@glasshouse/bundle';
import { DEFAULT_DEBIAN_YARA, detectDebianYara, run, type DebianYaraPaths } from './debian-yara.js';
import { ReleaseError } from '../errors.js';
import type { RulesRecipe } from './recipe.js';

/** Input bounds of a rules build. */
export interface RulesLimits {
  readonly maxRuleFileBytes: number;
  readonly maxRulesBytes: number;
  readonly maxSampleBytes: number;
  readonly maxFiles: number;
  readonly maxTotalBytes: number;
}

export const DEFAULT_RULES_LIMITS: RulesLimits = {
  maxRuleFileBytes: 8 * 1024 * 1024,
  maxRulesBytes: 64 * 1024 * 1024,
  maxSampleBytes: 16 * 1024 * 1024,
  maxFiles: 50_000,
  maxTotalBytes: 256 * 1024 * 1024,
};

/**
 * `auto` cross-checks with Debian `yara`/`yarac` when installed and notes
 * their absence otherwise; `require` fails with `RULES_ENGINE_MISSING` when
 * they are absent; `off` skips them.
 */
export type DebianYaraMode = 'auto' | 'require' | 'off';

export interface RulesBuildOptions {
  /** Root of the checked-out source; recipe paths are relative to it. */
  readonly sourceDir: string;
  readonly recipe: RulesRecipe;
  /** Seconds since the epoch, from the commit; every mtime in the bundle. */
  readonly sourceDateEpoch: number;
  readonly onProgress?: (message: string) => void;
  readonly debianYara?: DebianYaraMode;
  readonly debianYaraPaths?: DebianYaraPaths;
  /** Compress the tar with {@link gzipDeterministic}. Default false. */
  readonly gzip?: boolean;
  /** Scratch space for the Debian cross-check (default: the OS temp dir). */
  readonly tmpDir?: string;
  readonly limits?: RulesLimits;
  /**
   * The YARA-X build the bundle is compiled and tested with: `auto` (the
   * default) is the native binding where it loads, else the WebAssembly build.
   */
  readonly engine?: EngineChoice;
  /**
   * Go on with an engine that cannot time out a scan (the WebAssembly
   * build). Default false: such a build fails with `RULES_ENGINE_NO_TIMEOUT`.
   */
  readonly allowEngineWithoutTimeout?: boolean;
  /** Per-scan limit of the sample tests; a sample that hits it fails the build. Default 10 s. */
  readonly scanTimeoutMs?: number;
  /** Aborting stops the engine process at once; the build fails with `RULES_CANCELLED`. */
  readonly signal?: AbortSignal;
}

export type CrossCheck =
  | { readonly engine: 'yara'; readonly status: 'passed'; readonly version: string }
  | { readonly engine: 'yara'; readonly status: 'not-installed' | 'disabled' };

export interface RulesBuildResult {
  /** The bundle: a ustar archive, gzip-compressed when asked. */
  readonly bundle: Uint8Array;
  /** SHA-256 of `bundle`, as an in-toto digest set. */
  readonly digest: { readonly sha256: string };
  readonly manifest: RulesManifest;
  /** Whether Debian's engine confirmed the build (not part of the bundle). */
  readonly crossCheck: CrossCheck;
  /** The YARA-X build that compiled and tested the rules (for the provenance). */
  readonly engine: EngineDescription;
  /** Everything reported through `onProgress`, in order. */
  readonly log: string[];
}

interface InputFile {
  /** Path relative to its input directory, `/`-separated. */
  readonly rel: string;
  readonly data: Uint8Array;
}

const PORTABLE = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

class Budget {
  files = 0;
  bytes = 0;
  constructor(readonly limits: RulesLimits) {}
  take(path: string, size: number, perFile: number): void {
    this.files++;
    this.bytes += size;
    if (
      size > perFile ||
      this.files > this.limits.maxFiles ||
      this.bytes > this.limits.maxTotalBytes
    ) {
      throw new ReleaseError('RULES_TOO_LARGE', `${path}: input over the size or count limit`, {
        evidence: { path, size },
      });
    }
  }
}

/** Reads every regular file under `dir`, sorted by relative path; refuses links and odd names. */
async function readTree(
  root: string,
  label: string,
  budget: Budget,
  perFile: number,
): Promise<InputFile[]> {
  const out: InputFile[] = [];
  const visit = async (rel: string): Promise<void> => {
    const abs = rel === '' ? root : join(root, rel);
    let names: string[];
    try {
      names = await readdir(abs);
    } catch (cause) {
      throw new ReleaseError('RULES_IO', `cannot read directory ${label}/${rel}`, { cause });
    }
    for (const name of names.sort(compareBytes)) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const shown = `${label}/${childRel}`;
      if (!PORTABLE.test(name)) {
        throw new ReleaseError('RULES_BAD_FILE', `${shown}: not a portable file name`, {
          evidence: { path: shown },
        });
      }
      const st = await lstat(join(root, childRel));
      if (st.isDirectory()) {
        await visit(childRel);
      } else if (st.isFile()) {
        budget.take(shown, st.size, perFile);
        out.push({ rel: childRel, data: new Uint8Array(await readFile(join(root, childRel))) });
      } else {
        throw new ReleaseError('RULES_BAD_FILE', `${shown}: not a regular file or directory`, {
          evidence: { path: shown },
        });
      }
    }
  };
  try {
    const st = await lstat(root);
    if (!st.isDirectory()) throw new ReleaseError('RULES_BAD_FILE', `${label} is not a directory`);
  } catch (cause) {
    if (cause instanceof ReleaseError) throw cause;
    throw new ReleaseError('RULES_IO', `cannot read ${label}`, { cause });
  }
  await visit('');
  return out;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

interface ScanCase {
  /** Bundle path. */
  readonly path: string;
  readonly data: Uint8Array;
  /** The rule it must trigger, or undefined for a clean file. */
  readonly rule: string | undefined;
}

/** Compares one engine's matches for a case with what the recipe demands. */
function checkCase(c: ScanCase, got: readonly string[], engine: string): void {
  if (c.rule === undefined) {
    if (got.length > 0) {
      throw new ReleaseError(
        'RULES_CLEAN_MATCHED',
        `rule ${got.join(', ')} fires on clean file ${c.path} (${engine})`,
        {
          evidence: { rules: got, file: c.path, engine },
        },
      );
    }
    return;
  }
  if (!got.includes(c.rule)) {
    throw new ReleaseError(
      'RULES_SAMPLE_NOT_MATCHED',
      `rule ${c.rule} is not triggered by its sample ${c.path} (${engine})`,
      {
        evidence: { rule: c.rule, file: c.path, engine, got },
      },
    );
  }
  const extra = got.filter((r) => r !== c.rule);
  if (extra.length > 0) {
    throw new ReleaseError(
      'RULES_SAMPLE_EXTRA_MATCH',
      `sample ${c.path} of rule ${c.rule} also triggers rule ${extra.join(', ')} (${engine})`,
      { evidence: { rule: c.rule, file: c.path, engine, extra } },
    );
  }
}

/**
 * Builds a rules bundle from a `rules` recipe: read and bound the inputs,
 * compile with yara-x (and Debian `yarac` when installed), run every sample
 * and clean file through both engines, then package the deterministic tar
 * with its manifest. Any failure throws a `ReleaseError` naming the rule
 * and/or file.
 */
export async function buildRulesBundle(options: RulesBuildOptions): Promise<RulesBuildResult> {
  try {
    return await buildRules(options);
  } catch (err) {
    // The build reports the format's and the engine's failures as its own, code unchanged.
    if (!(err instanceof BundleError)) throw err;
    throw new ReleaseError(err.code, err.message, {
      cause: err,
      ...(err.evidence === undefined ? {} : { evidence: { ...err.evidence } }),
    });
  }
}

async function buildRules(options: RulesBuildOptions): Promise<RulesBuildResult> {
  const { recipe, sourceDir, sourceDateEpoch } = options;
  const limits = options.limits ?? DEFAULT_RULES_LIMITS;
  const log: string[] = [];
  const progress = (message: string): void => {
    log.push(message);
    options.onProgress?.(message);
  };
  if (
    !Number.isSafeInteger(sourceDateEpoch) ||
    sourceDateEpoch < 0 ||
    sourceDateEpoch > 0o77777777777
  ) {
    throw new ReleaseError('RULES_BAD_EPOCH', `SOURCE_DATE_EPOCH out of range: ${sourceDateEpoch}`);
  }

  // 1. Inputs.
  const budget = new Budget(limits);
  const { inputs } = recipe;
  const ruleTree = await readTree(
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
  const sampleTree = await readTree(
    join(sourceDir, inputs.samples),
    inputs.samples,
    budget,
    limits.maxSampleBytes,
  );
  const cleanTree = await readTree(
    join(sourceDir, inputs.clean),
    inputs.clean,
    budget,
    limits.maxSampleBytes,
  );
  if (cleanTree.length === 0)
    throw new ReleaseError('RULES_EMPTY', `no clean files under ${inputs.clean}`);
  progress(
    `read ${ruleFiles.length} rule files, ${sampleTree.length} samples, ${cleanTree.length} clean files`,
  );

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

  const tested = await compileAndTest(options, sources, sampleTree, cleanTree, progress);
  return packageRules(options, sources, ruleFiles, tested, progress, log);
}

interface TestedRules {
  readonly engine: EngineDescription;
  readonly publicNames: readonly string[];
  readonly cases: readonly ScanCase[];
}

/**
 * Steps 2 to 4: compile in the engine process (off this event loop),
 * collect declared names, map samples to rules, run every sample and clean
 * file through the one compiled set.
 */
async function compileAndTest(
  options: RulesBuildOptions,
  sources: readonly RuleSource[],
  sampleTree: readonly InputFile[],
  cleanTree: readonly InputFile[],
  progress: (message: string) => void,
): Promise<TestedRules> {
  const { inputs } = options.recipe;
  const selected = selectYaraEngine(options.engine ?? 'auto');
  if (selected.notice !== undefined) progress(selected.notice);
  requireScanTimeout(selected.engine, options.allowEngineWithoutTimeout === true);
  let reported = 0;
  const compiled = await EngineProcess.start(
    {
      engine: selected.engine.binding,
      sources,
      limits: { timeoutMs: options.scanTimeoutMs ?? DEFAULT_SCAN_LIMITS.timeoutMs },
    },
    {
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onProgress: (done, total) => {
        // A line per tenth, so a large set does not flood the build's log.
        const tenth = Math.floor((10 * done) / total);
        if (tenth <= reported) return;
        reported = tenth;
        progress(`${engineName}: tested ${done} of ${total} files`);
      },
    },
  );
  const { engine } = compiled;
  const engineName = `${engine.name} ${engine.version} (${engine.binding})`;
  try {
    for (const w of compiled.warnings) progress(`${engine.name} warning: ${w}`);
    const declared: DeclaredRule[] = sources.flatMap((s) => declaredRules(s.text, s.path));
    const global = declared.find((r) => r.isGlobal);
    if (global !== undefined) {
      throw new ReleaseError(
        'RULES_UNSUPPORTED',
        `rule ${global.name}: global rules are not supported`,
        { evidence: { rule: global.name } },
      );
    }
    const publicNames = declared
      .filter((r) => !r.isPrivate)
      .map((r) => r.name)
      .sort(compareBytes);
    progress(
      `${engineName} compiled ${declared.length} rules (${publicNames.length} public) in ${(compiled.compileMs / 1000).toFixed(2)} s`,
    );

    // 3. Map samples to rules: samples/<rule>/<file>.
    const cases = scanCases(inputs.samples, sampleTree, cleanTree, publicNames);

    // 4. Sample and clean-file tests: one compiled set, every file.
    const results = await compiled.scan(cases.map((c) => c.data));
    const publicSet = new Set(publicNames);
    for (const [i, c] of cases.entries()) {
      const result = results[i];
      if (result?.status !== 'ok') {
        throw new ReleaseError(
          'RULES_SAMPLE_TIMEOUT',
          `scanning ${c.path} took longer than ${options.scanTimeoutMs ?? DEFAULT_SCAN_LIMITS.timeoutMs} ms (${engineName})`,
          { evidence: { file: c.path, engine: engineName } },
        );
      }
      const got = matchedRuleNames(result);
      const stray = got.find((r) => !publicSet.has(r));
      if (stray !== undefined) {
        throw new ReleaseError(
          'RULES_ENGINE_DISAGREE',
          `yara-x reports rule ${stray}, which the sources do not declare`,
          { evidence: { rule: stray } },
        );
      }
      checkCase(c, got, 'yara-x');
    }
    progress(`${engineName}: ${cases.length} sample and clean-file tests passed`);
    return { engine, publicNames, cases };
  } finally {
    compiled.close();
  }
}

/**
 * The sample and clean-file cases: `samples/<rule>/<file>` must name a
 * public rule, and every public rule needs a sample.
 */
function scanCases(
  samplesDir: string,
  sampleTree: readonly InputFile[],
  cleanTree: readonly InputFile[],
  publicNames: readonly string[],
): ScanCase[] {
  const publicRules = new Set(publicNames);
  const cases: ScanCase[] = [];
  const sampled = new Set<string>();
  for (const f of sampleTree) {
    const [rule, ...rest] = f.rel.split('/');
    if (rule === undefined || rest.length === 0) {
      throw new ReleaseError(
        'RULES_SAMPLE_UNKNOWN',
        `${samplesDir}/${f.rel}: samples live in <rule name>/ directories`,
        { evidence: { file: f.rel } },
      );
    }
    if (!publicRules.has(rule)) {
      throw new ReleaseError(
        'RULES_SAMPLE_UNKNOWN',
        `${samplesDir}/${f.rel}: no public rule named ${rule}`,
        { evidence: { rule, file: f.rel } },
      );
    }
    sampled.add(rule);
    cases.push({ path: `samples/${f.rel}`, data: f.data, rule });
  }
  const unsampled = publicNames.find((n) => !sampled.has(n));
  if (unsampled !== undefined) {
    throw new ReleaseError(
      'RULES_SAMPLE_MISSING',
      `rule ${unsampled} has no sample under ${samplesDir}/${unsampled}/`,
      { evidence: { rule: unsampled } },
    );
  }
  for (const f of cleanTree) cases.push({ path: `clean/${f.rel}`, data: f.data, rule: undefined });
  return cases;
}

/** Steps 5 and 6: the Debian cross-check, then the deterministic tar and its manifest. */
async function packageRules(
  options: RulesBuildOptions,
  sources: readonly RuleSource[],
  ruleFiles: readonly InputFile[],
  tested: TestedRules,
  progress: (message: string) => void,
  log: string[],
): Promise<RulesBuildResult> {
  const { recipe, sourceDateEpoch } = options;
  const { engine, publicNames, cases } = tested;
  // 5. Debian cross-check.
  const crossCheck = await debianCrossCheck(options, sources, publicNames, cases, progress);

  // 6. Package.
  const entries: TarEntry[] = [
    ...sources.map((s, i) => ({ path: s.path, data: ruleFiles[i]?.data ?? new Uint8Array() })),
    ...cases.map((c) => ({ path: c.path, data: c.data })),
  ];
  const files: Record<string, string> = {};
  for (const e of entries) files[e.path] = sha256Hex(e.data);
  const selfTest: SelfTestCase[] = cases
    .map((c) => ({ sample: c.path, expect: c.rule === undefined ? [] : [c.rule] }))
    .sort((a, b) => compareBytes(a.sample, b.sample));
  const manifest: RulesManifest = {
    schema: MANIFEST_SCHEMA,
    name: recipe.name,
    version: recipe.version,
    sourceDateEpoch,
    engines: { [engine.name]: engine.version },
    rules: sources.map((s) => s.path),
    ruleNames: publicNames,
    files,
    selfTest,
  };
  entries.push({ path: MANIFEST_PATH, data: serializeManifest(manifest) });
  const tar = writeTar(entries, sourceDateEpoch);
  const bundle = options.gzip === true ? gzipDeterministic(tar) : tar;
  const digest = { sha256: sha256Hex(bundle) };
  progress(
    `bundle ${recipe.name}-${recipe.version}: ${entries.length} files, ${bundle.length} bytes, sha256:${digest.sha256}`,
  );
  return { bundle, digest, manifest, crossCheck, engine, log };
}

/** Splits `yara` output lines (`RULE PATH`) into a map path → rule names. */
function parseYaraOutput(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const space = line.indexOf(' ');
    if (space <= 0)
      throw new ReleaseError('RULES_ENGINE_FAILED', `unexpected yara output: ${line}`);
    const path = line.slice(space + 1);
    const list = out.get(path) ?? [];
    list.push(line.slice(0, space));
    out.set(path, list);
  }
  return out;
}

async function debianCrossCheck(
  options: RulesBuildOptions,
  sources: readonly RuleSource[],
  publicNames: readonly string[],
  cases: readonly ScanCase[],
  progress: (message: string) => void,
): Promise<CrossCheck> {
  const mode = options.debianYara ?? 'auto';
  if (mode === 'off') {
    progress('Debian yara cross-check disabled');
    return { engine: 'yara', status: 'disabled' };
  }
  const paths = options.debianYaraPaths ?? DEFAULT_DEBIAN_YARA;
  const version = await detectDebianYara(paths);
  if (version === undefined) {
    if (mode === 'require') {
      throw new ReleaseError(
        'RULES_ENGINE_MISSING',
        'Debian yara/yarac is required but not installed',
      );
    }
    progress('Debian yara/yarac not installed: cross-check skipped (yara-x only)');
    return { engine: 'yara', status: 'not-installed' };
  }
  const work = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'rules-xcheck-'));
  try {
    // Sources keep their bundle paths so yarac's diagnostics name them.
    for (const s of sources) {
      await mkdir(dirname(join(work, s.path)), { recursive: true });
      await writeFile(join(work, s.path), s.text);
    }
    const compiledPath = join(work, 'compiled.yarc');
    const yarac = await run(
      paths.yarac,
      [...sources.map((s) => s.path), 'compiled.yarc'].map((p) => join(work, p)),
      undefined,
      options.signal,
    );
    if (yarac.code !== 0) {
      const firstError =
        yarac.stderr.split('\n').find((l) => l.includes('error')) ?? yarac.stderr.trim();
      const file = sources.find((s) => firstError.includes(join(work, s.path)))?.path;
      throw new ReleaseError(
        'RULES_ENGINE_DISAGREE',
        `yara-x accepts the rules but Debian yarac ${version} refuses ${file ?? 'them'}: ${firstError.replaceAll(`${work}/`, '')}`,
        {
          evidence: {
            file,
            engine: 'yarac',
            version,
            stderr: yarac.stderr.replaceAll(`${work}/`, ''),
          },
        },
      );
    }
    // Public rule names: those matching an empty file plus those not matching it.
    const empty = join(work, 'empty');
    await writeFile(empty, new Uint8Array());
    const hit = await run(paths.yara, ['-C', compiledPath, empty], undefined, options.signal);
    const miss = await run(
      paths.yara,
      ['-C', '-n', compiledPath, empty],
      undefined,
      options.signal,
    );
    if (hit.code !== 0 || miss.code !== 0) {
      throw new ReleaseError('RULES_ENGINE_FAILED', `yara failed: ${hit.stderr}${miss.stderr}`);
    }
    const reported = [
      ...(parseYaraOutput(hit.stdout).get(empty) ?? []),
      ...(parseYaraOutput(miss.stdout).get(empty) ?? []),
    ];
    const names = [...new Set(reported)].sort(compareBytes);
    if (!sameList(names, publicNames)) {
      const onlyDebian = names.filter((n) => !publicNames.includes(n));
      const onlyX = publicNames.filter((n) => !names.includes(n));
      throw new ReleaseError(
        'RULES_ENGINE_DISAGREE',
        `the engines see different rules: only yara ${version}: [${onlyDebian.join(', ')}], only yara-x: [${onlyX.join(', ')}]`,
        { evidence: { onlyDebian, onlyYaraX: onlyX } },
      );
    }
    // Every case in one recursive scan; files are numbered so paths stay simple.
    const scanDir = join(work, 'scan');
    await mkdir(scanDir);
    const byPath = new Map<string, ScanCase>();
    for (const [i, c] of cases.entries()) {
      const p = join(scanDir, String(i).padStart(6, '0'));
      await writeFile(p, c.data);
      byPath.set(p, c);
    }
    const scan = await run(
      paths.yara,
      ['-C', '-r', compiledPath, scanDir],
      undefined,
      options.signal,
    );
    if (scan.code !== 0)
      throw new ReleaseError('RULES_ENGINE_FAILED', `yara failed: ${scan.stderr}`);
    const matches = parseYaraOutput(scan.stdout);
    for (const [p, c] of byPath)
      checkCase(c, (matches.get(p) ?? []).sort(compareBytes), `yara ${version}`);
    progress(`Debian yara ${version}: compiled and passed ${cases.length} tests`);
    return { engine: 'yara', status: 'passed', version };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
