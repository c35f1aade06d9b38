import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf } from '../../errors/test/codes.js';
import {
  BundleError,
  matchedRuleNames,
  nativeYaraEngine,
  requireScanTimeout,
  wasmYaraEngine,
  type CompiledRules,
  type RuleSource,
  type YaraEngine,
} from '../src/index.js';

/**
 * One contract for every engine adapter: the feature file with its expected
 * matches, compile errors naming file and line, match limits, timeouts.
 */

interface InputPart {
  readonly text?: string;
  readonly wide?: string;
  readonly hex?: string;
  readonly zeros?: number;
}
interface FeatureCase {
  readonly name: string;
  readonly input: readonly InputPart[];
  readonly matches: readonly string[];
}
interface FeatureFile {
  readonly rules: string;
  readonly tags: Readonly<Record<string, readonly string[]>>;
  readonly cases: readonly FeatureCase[];
}

const dataDir = new URL('./engine/', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, dataDir), 'utf8');
const features = JSON.parse(read('features.json')) as FeatureFile;
const featureSource: RuleSource = { path: 'rules/features.yar', text: read(features.rules) };

function inputOf(parts: readonly InputPart[]): Uint8Array {
  return Buffer.concat(
    parts.map((p) => {
      if (p.text !== undefined) return Buffer.from(p.text, 'utf8');
      if (p.wide !== undefined) return Buffer.from(p.wide, 'utf16le');
      if (p.hex !== undefined) return Buffer.from(p.hex.replaceAll(' ', ''), 'hex');
      return Buffer.alloc(p.zeros ?? 0);
    }),
  );
}

/** The coded error `compile` throws (its evidence is part of the contract). */
function compileError(engine: YaraEngine, sources: readonly RuleSource[]): BundleError {
  try {
    engine.compile(sources).free();
  } catch (err) {
    if (err instanceof BundleError) return err;
    throw err;
  }
  throw new Error('compiled without error');
}

const adapters: readonly [string, () => YaraEngine][] = [
  ['native', nativeYaraEngine],
  ['wasm', wasmYaraEngine],
];

describe.each(adapters)('YARA engine contract: %s', (binding, load) => {
  const engine = load();
  let rules: CompiledRules;
  let dir: string;
  beforeAll(async () => {
    rules = engine.compile([featureSource]);
    dir = await mkdtemp(join(tmpdir(), 'engine-contract-'));
  });
  afterAll(async () => {
    rules.free();
    await rm(dir, { recursive: true, force: true });
  });

  it('describes itself', () => {
    expect(engine.name).toBe('yara-x');
    expect(engine.binding).toBe(binding);
    expect(engine.version).toBe('1.20.0');
    expect(engine.package).toMatch(/@\d+\.\d+\.\d+$/);
  });

  it.each(features.cases.map((c) => [c.name, c] as const))('feature: %s', (_, c) => {
    const result = rules.scan(inputOf(c.input));
    expect(result.status).toBe('ok');
    expect(matchedRuleNames(result)).toEqual(c.matches);
    if (result.status !== 'ok') return;
    for (const m of result.matches) expect(m.tags).toEqual(features.tags[m.rule] ?? []);
  });

  it('scans files as it scans buffers', async () => {
    for (const [i, c] of features.cases.entries()) {
      const path = join(dir, `case-${i}`);
      await writeFile(path, inputOf(c.input));
      expect(matchedRuleNames(rules.scanFile(path)), c.name).toEqual(c.matches);
    }
  });

  it('names the file, line and column of a compile error', () => {
    const sources: RuleSource[] = [
      featureSource,
      { path: 'rules/good.yar', text: 'rule good_one { condition: true }' },
      {
        path: 'rules/bad.yar',
        text: '// a comment\n\nrule bad_one {\n    condition: undeclared_thing\n}\n',
      },
    ];
    const err = compileError(engine, sources);
    expect(err.code).toBe('RULES_SYNTAX');
    expect(err.evidence).toMatchObject({ file: 'rules/bad.yar', line: 4, column: 16 });
    expect(err.evidence?.diagnostic).toContain('rules/bad.yar:4:16');
  });

  it('names the second file of a duplicate rule', () => {
    const err = compileError(engine, [
      { path: 'rules/a.yar', text: 'rule twice { condition: true }\n' },
      { path: 'rules/b.yar', text: '\nrule twice { condition: false }' },
    ]);
    expect(err.code).toBe('RULES_SYNTAX');
    expect(err.evidence).toMatchObject({ file: 'rules/b.yar', line: 2 });
  });

  it('stops counting at the match limit', () => {
    const source: RuleSource = {
      path: 'rules/count.yar',
      text: 'rule fifty_or_more { strings: $a = "ab" condition: #a >= 50 }',
    };
    const data = Buffer.from('ab'.repeat(100));
    const unlimited = engine.compile([source]);
    const limited = engine.compile([source], { maxMatchesPerPattern: 10 });
    try {
      expect(matchedRuleNames(unlimited.scan(data))).toEqual(['fifty_or_more']);
      expect(matchedRuleNames(limited.scan(data))).toEqual([]);
    } finally {
      unlimited.free();
      limited.free();
    }
  });

  it('refuses limits out of range', () => {
    const source = { path: 'r.yar', text: 'rule r { condition: true }' };
    expect(codeOf(() => engine.compile([source], { timeoutMs: 0 }))).toBe('RULES_ENGINE_BAD_LIMIT');
    expect(codeOf(() => engine.compile([source], { maxMatchesPerPattern: 1.5 }))).toBe(
      'RULES_ENGINE_BAD_LIMIT',
    );
  });
});

describe('serialized rule sets (native)', () => {
  const engine = nativeYaraEngine();

  it('loads what it serialized: the same matches, limits applied anew', () => {
    const compiled = engine.compile([featureSource]);
    const bytes = compiled.serialize?.();
    compiled.free();
    expect(bytes?.byteLength).toBeGreaterThan(0);
    const loaded = engine.load?.(bytes ?? new Uint8Array(), { maxMatchesPerPattern: 10 });
    if (loaded === undefined) throw new Error('the native engine cannot load');
    try {
      for (const c of features.cases) {
        expect(matchedRuleNames(loaded.scan(inputOf(c.input))), c.name).toEqual(c.matches);
      }
    } finally {
      loaded.free();
    }
  });

  it('refuses bytes that are not a serialized set', () => {
    expect(codeOf(() => engine.load?.(Buffer.from('not rules')))).toBe('RULES_ENGINE_FAILED');
  });

  it('the wasm build cannot serialize, and says so by leaving both out', () => {
    const wasm = wasmYaraEngine();
    const rules = wasm.compile([featureSource]);
    try {
      expect('load' in wasm).toBe(false);
      expect('serialize' in rules).toBe(false);
    } finally {
      rules.free();
    }
  });
});

describe('scan timeouts', () => {
  const pathological: RuleSource = { path: 'rules/runaway.yar', text: read('pathological.yar') };

  it('native: a runaway rule returns a timeout result, and the set scans on', () => {
    const engine = nativeYaraEngine();
    expect(engine.enforcesTimeout).toBe(true);
    requireScanTimeout(engine, false);
    const rules = engine.compile([pathological], { timeoutMs: 100 });
    try {
      const started = performance.now();
      const result = rules.scan(new Uint8Array(1024 * 1024));
      const ms = performance.now() - started;
      expect(result).toEqual({ status: 'timeout', timeoutMs: 100 });
      // YARA-X checks its deadline once a second: 100 ms ends within ~1 s.
      expect(ms).toBeLessThan(2_500);
      // Small inputs still finish, with the same compiled set.
      expect(matchedRuleNames(rules.scan(new Uint8Array(16)))).toEqual(['runaway_loop']);
    } finally {
      rules.free();
    }
  });

  it('wasm: documented as ignoring the timeout, so it is refused unless allowed', () => {
    const engine = wasmYaraEngine();
    expect(engine.enforcesTimeout).toBe(false);
    expect(
      codeOf(() => {
        requireScanTimeout(engine, false);
      }),
    ).toBe('RULES_ENGINE_NO_TIMEOUT');
    requireScanTimeout(engine, true);
  });
});
