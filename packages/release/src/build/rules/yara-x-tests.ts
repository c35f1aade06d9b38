import {
  compareBytes,
  DEFAULT_SCAN_LIMITS,
  EngineProcess,
  declaredRules,
  matchedRuleNames,
  requireScanTimeout,
  scanProcessesFor,
  selectYaraEngine,
  type DeclaredRule,
  type EngineDescription,
  type RuleSource,
} from '@glasshouse/bundle';
import { ReleaseError } from '../../errors.js';
import { checkCase, scanCases, type ScanCase } from './cases.js';
import type { InputFile } from './inputs.js';
import type { RulesJobOptions } from './types.js';

export interface TestedRules {
  readonly engine: EngineDescription;
  readonly publicNames: readonly string[];
  readonly cases: readonly ScanCase[];
}

/**
 * The public rule names the sources declare (sorted); refuses global rules,
 * which would fire on every sample and clean file.
 */
export function publicRuleNames(sources: readonly RuleSource[]): {
  declared: number;
  publicNames: string[];
} {
  const declared: DeclaredRule[] = sources.flatMap((s) => declaredRules(s.text, s.path));
  const global = declared.find((r) => r.isGlobal);
  if (global !== undefined) {
    throw new ReleaseError(
      'RULES_UNSUPPORTED',
      `rule ${global.name}: global rules are not supported`,
      {
        evidence: { rule: global.name },
      },
    );
  }
  const publicNames = declared
    .filter((r) => !r.isPrivate)
    .map((r) => r.name)
    .sort(compareBytes);
  return { declared: declared.length, publicNames };
}

/**
 * Starts compiling the set in engine processes (see `EngineProcess`), so
 * that the build process can read the samples and hash the tree meanwhile;
 * `scans` (the expected number of sample and clean-file tests) decides how
 * many processes share the scanning.
 */
export function startCompile(
  options: RulesJobOptions,
  sources: readonly RuleSource[],
  scans: number,
  progress: (message: string) => void,
  signal: AbortSignal,
): Promise<EngineProcess> {
  const timeoutMs = options.scanTimeoutMs ?? DEFAULT_SCAN_LIMITS.timeoutMs;
  const selected = selectYaraEngine(options.engine ?? 'auto');
  if (selected.notice !== undefined) progress(selected.notice);
  requireScanTimeout(selected.engine, options.allowEngineWithoutTimeout === true);
  const { engine } = selected;
  const engineName = `${engine.name} ${engine.version} (${engine.binding})`;
  let reported = 0;
  return EngineProcess.start(
    { engine: engine.binding, sources, limits: { timeoutMs } },
    {
      signal,
      processes: scanProcessesFor(scans),
      onProgress: (done, total) => {
        // A line per tenth, so a large set does not flood the build's log.
        const tenth = Math.floor((10 * done) / total);
        if (tenth <= reported) return;
        reported = tenth;
        progress(`${engineName}: tested ${done} of ${total} files`);
      },
    },
  );
}

/**
 * Waits for the compile, then runs every sample and clean file through the
 * compiled set (spread over its engine processes) and checks each against
 * the recipe. Closes the engine processes in every case.
 */
export async function testCompiled(
  compiling: Promise<EngineProcess>,
  options: RulesJobOptions,
  sources: readonly RuleSource[],
  sampleTree: readonly InputFile[],
  cleanTree: readonly InputFile[],
  progress: (message: string) => void,
): Promise<TestedRules> {
  const { inputs } = options.recipe;
  const timeoutMs = options.scanTimeoutMs ?? DEFAULT_SCAN_LIMITS.timeoutMs;
  const compiled = await compiling;
  const { engine } = compiled;
  const engineName = `${engine.name} ${engine.version} (${engine.binding})`;
  try {
    for (const w of compiled.warnings) progress(`${engine.name} warning: ${w}`);
    const { declared, publicNames } = publicRuleNames(sources);
    progress(
      `${engineName} compiled ${declared} rules (${publicNames.length} public) in ${(compiled.compileMs / 1000).toFixed(2)} s`,
    );
    // Samples live in samples/<rule>/<file>.
    const cases = scanCases(inputs.samples, sampleTree, cleanTree, publicNames);
    const results = await compiled.scan(cases.map((c) => c.data));
    const publicSet = new Set(publicNames);
    for (const [i, c] of cases.entries()) {
      const result = results[i];
      if (result?.status !== 'ok') {
        throw new ReleaseError(
          'RULES_SAMPLE_TIMEOUT',
          `scanning ${c.path} took longer than ${timeoutMs} ms (${engineName})`,
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
