import { sha256Hex } from '@glasshouse/attest';
import {
  compareBytes,
  gzipDeterministic,
  MANIFEST_PATH,
  MANIFEST_SCHEMA,
  serializeManifest,
  writeTar,
  type EngineDescription,
  type RuleSource,
  type RulesManifest,
  type SelfTestCase,
  type TarEntry,
} from '@glasshouse/bundle';
import type { ScanCase } from './cases.js';
import type { InputFile } from './inputs.js';
import type { RulesRecipe } from '../recipe.js';

export interface PackagedRules {
  readonly bundle: Uint8Array;
  readonly digest: { readonly sha256: string };
  readonly manifest: RulesManifest;
  readonly files: number;
}

/** The deterministic tar (optionally gzip) of the rule sources and test files, with its manifest. */
export function packageRules(
  recipe: RulesRecipe,
  sourceDateEpoch: number,
  gzip: boolean,
  sources: readonly RuleSource[],
  ruleFiles: readonly InputFile[],
  engine: EngineDescription,
  publicNames: readonly string[],
  cases: readonly ScanCase[],
): PackagedRules {
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
  const bundle = gzip ? gzipDeterministic(tar) : tar;
  return { bundle, digest: { sha256: sha256Hex(bundle) }, manifest, files: entries.length };
}
