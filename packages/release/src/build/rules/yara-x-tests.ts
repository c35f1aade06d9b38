import {
  compareBytes,
  DEFAULT_SCAN_LIMITS,
  EngineProcess,
  declaredRules,
  matchedRuleNames,
  requireScanTimeout,
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
 * Compiles the set once in the engine process and runs every sample and
 * clean file through it: one request carries every file, one answer every
 * result. The engine has a process of its own so that this process's event
 * loop stays free to run the Debian cross-check at the same time.
 */
export async function compileAndTest(
  options: RulesJobOptions,
  sources: readonly RuleSource[],
  sampleTree: readonly InputFile[],
  cleanTree: readonly InputFile[],
  progress: (message: string) => void,
  signal: AbortSignal,
): Promise<TestedRules> {
  const { inputs } = options.recipe;
  const timeoutMs = options.scanTimeoutMs ?? DEFAULT_SCAN_LIMITS.timeoutMs;
  const selected = selectYaraEngine(options.engine ?? 'auto');
  if (selected.notice !== undefined) progress(selected.notice);
  requireScanTimeout(selected.engine, options.allowEngineWithoutTimeout === true);
  let reported = 0;
  const compiled = await EngineProcess.start(
    { engine: selected.engine.binding, sources, limits: { timeoutMs } },
    {
      signal,
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
