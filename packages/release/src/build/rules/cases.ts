import { ReleaseError } from '../../errors.js';
import type { InputFile } from './inputs.js';

/** One sample or clean-file test of a rules build. */
export interface ScanCase {
  /** Bundle path. */
  readonly path: string;
  /** Where the file is on disk. */
  readonly abs: string;
  readonly data: Uint8Array;
  /** The rule it must trigger, or undefined for a clean file. */
  readonly rule: string | undefined;
}

/**
 * The sample and clean-file cases: `samples/<rule>/<file>` must name a
 * public rule, and every public rule needs a sample.
 */
export function scanCases(
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
    cases.push({ path: `samples/${f.rel}`, abs: f.abs, data: f.data, rule });
  }
  const unsampled = publicNames.find((n) => !sampled.has(n));
  if (unsampled !== undefined) {
    throw new ReleaseError(
      'RULES_SAMPLE_MISSING',
      `rule ${unsampled} has no sample under ${samplesDir}/${unsampled}/`,
      { evidence: { rule: unsampled } },
    );
  }
  for (const f of cleanTree) {
    cases.push({ path: `clean/${f.rel}`, abs: f.abs, data: f.data, rule: undefined });
  }
  return cases;
}

/** Compares one engine's matches for a case with what the recipe demands. */
export function checkCase(c: ScanCase, got: readonly string[], engine: string): void {
  if (c.rule === undefined) {
    if (got.length > 0) {
      throw new ReleaseError(
        'RULES_CLEAN_MATCHED',
        `rule ${got.join(', ')} fires on clean file ${c.path} (${engine})`,
        { evidence: { rules: got, file: c.path, engine } },
      );
    }
    return;
  }
  if (!got.includes(c.rule)) {
    throw new ReleaseError(
      'RULES_SAMPLE_NOT_MATCHED',
      `rule ${c.rule} is not triggered by its sample ${c.path} (${engine})`,
      { evidence: { rule: c.rule, file: c.path, engine, got } },
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
