import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildRulesBundle,
  DEFAULT_DEBIAN_YARA,
  detectDebianYara,
  parseRecipe,
  ReleaseError,
  type DebianYaraMode,
  type RulesBuildResult,
  type RulesRecipe,
} from '@glasshouse/release';
import { BundleError, readBundle, runSelfTest, wasmYaraEngine } from '@glasshouse/bundle';

const fixture = fileURLToPath(new URL('../testdata/rules', import.meta.url));
const EPOCH = 1_700_000_000;
const scratch: string[] = [];
let debianVersion: string | undefined;

beforeAll(async () => {
  debianVersion = await detectDebianYara(DEFAULT_DEBIAN_YARA);
  if (debianVersion === undefined) {
    if (process.env.CI !== undefined) throw new Error('CI must have Debian yara/yarac installed');
    console.log('Debian yara/yarac not installed: the cross-engine tests are skipped');
  }
});

afterAll(async () => {
  await Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true })));
});

/** A private copy of the fixture source tree, so a test can change it. */
async function copyFixture(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rules-src-'));
  scratch.push(dir);
  await cp(fixture, dir, { recursive: true });
  return dir;
}

async function recipeOf(dir: string): Promise<RulesRecipe> {
  const recipe = parseRecipe(await readFile(join(dir, 'glasshouse-recipe.json')));
  if (recipe.kind !== 'rules') throw new Error('fixture is a rules recipe');
  return recipe;
}

async function build(dir: string, debianYara: DebianYaraMode = 'off'): Promise<RulesBuildResult> {
  return buildRulesBundle({
    sourceDir: dir,
    recipe: await recipeOf(dir),
    sourceDateEpoch: EPOCH,
    debianYara,
  });
}

async function failure(p: Promise<unknown>): Promise<ReleaseError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ReleaseError);
  return err as ReleaseError;
}

describe('rules build', () => {
  it('is reproducible across directories, times and file mtimes', async () => {
    const a = await copyFixture();
    const progress: string[] = [];
    const first = await buildRulesBundle({
      sourceDir: a,
      recipe: await recipeOf(a),
      sourceDateEpoch: EPOCH,
      onProgress: (m) => progress.push(m),
    });
    expect(progress).toEqual(first.log);
    await new Promise((r) => setTimeout(r, 1100));
    const b = await copyFixture();
    await utimes(join(b, 'rules/basic.yar'), 1, 1);
    const second = await build(b, 'auto');
    expect(Buffer.from(second.bundle).equals(Buffer.from(first.bundle))).toBe(true);
    expect(second.digest).toEqual(first.digest);
    expect(first.manifest.ruleNames).toEqual([
      'gh_test_header_delta',
      'gh_test_hex_beta',
      'gh_test_marker_alpha',
      'gh_test_regex_gamma',
    ]);
    expect(first.manifest.selfTest).toContainEqual({ sample: 'clean/near-miss.txt', expect: [] });
    expect(first.manifest.selfTest).toContainEqual({
      sample: 'samples/gh_test_header_delta/tiny.bin',
      expect: ['gh_test_header_delta'],
    });
    const text = new TextDecoder().decode(first.bundle);
    expect(text).not.toContain(a);
    expect(text).not.toContain(tmpdir());
    if (debianVersion !== undefined) expect(second.crossCheck).toMatchObject({ status: 'passed' });
  });

  it('gzip output is reproducible and reads back', async () => {
    const dir = await copyFixture();
    const opts = {
      sourceDir: dir,
      recipe: await recipeOf(dir),
      sourceDateEpoch: EPOCH,
      debianYara: 'off' as const,
    };
    const one = await buildRulesBundle({ ...opts, gzip: true });
    const two = await buildRulesBundle({ ...opts, gzip: true });
    expect(Buffer.from(one.bundle).equals(Buffer.from(two.bundle))).toBe(true);
    expect([...one.bundle.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    expect(readBundle(one.bundle).manifest).toEqual(one.manifest);
  });

  it('the bundle passes its own self-test, and a swapped sample fails it', async () => {
    const result = await build(await copyFixture());
    const contents = readBundle(result.bundle);
    expect(runSelfTest(contents, wasmYaraEngine()).cases).toBe(8);
    const files = new Map(contents.files);
    files.set('samples/gh_test_hex_beta/bytes.bin', new TextEncoder().encode('clean now'));
    const err = (() => {
      try {
        runSelfTest({ manifest: contents.manifest, files }, wasmYaraEngine());
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BundleError);
    expect((err as BundleError).code).toBe('SELFTEST_FAILED');
  });

  it('the system tar lists fixed owners, modes and mtimes', async () => {
    const dir = await copyFixture();
    const result = await build(dir);
    const file = join(dir, 'bundle.tar');
    await writeFile(file, result.bundle);
    const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', file], {
      encoding: 'utf8',
      env: { TZ: 'UTC', LC_ALL: 'C', PATH: process.env.PATH ?? '' },
    });
    const lines = listing.trim().split('\n');
    expect(lines).toHaveLength(11);
    for (const line of lines)
      expect(line).toMatch(/^-rw-r--r-- 0\/0 +\d+ 2023-11-14 22:13:20 \S+$/);
    expect(lines.map((l) => l.split(' ').at(-1))).toEqual(
      [
        'clean/large-header.bin',
        'clean/near-miss.txt',
        'clean/short-bytes.bin',
        'manifest.json',
        'rules/basic.yar',
        'rules/structure/shape.yar',
        'samples/gh_test_header_delta/small.bin',
        'samples/gh_test_header_delta/tiny.bin',
        'samples/gh_test_hex_beta/bytes.bin',
        'samples/gh_test_marker_alpha/marker.txt',
        'samples/gh_test_regex_gamma/line.txt',
      ].sort(),
    );
  });

  it('a sample that does not trigger its rule fails, naming the rule', async () => {
    const dir = await copyFixture();
    await writeFile(join(dir, 'samples/gh_test_regex_gamma/line.txt'), 'gh-gamma-20x4-end\n');
    const err = await failure(build(dir));
    expect(err.code).toBe('RULES_SAMPLE_NOT_MATCHED');
    expect(err.message).toContain('gh_test_regex_gamma');
    expect(err.evidence).toMatchObject({
      rule: 'gh_test_regex_gamma',
      file: 'samples/gh_test_regex_gamma/line.txt',
    });
  });

  it('a rule that fires on a clean file fails, naming the rule and the file', async () => {
    const dir = await copyFixture();
    await writeFile(join(dir, 'clean/near-miss.txt'), 'oops GLASSHOUSE-TEST-ALPHA\n');
    const err = await failure(build(dir));
    expect(err.code).toBe('RULES_CLEAN_MATCHED');
    expect(err.message).toContain('gh_test_marker_alpha');
    expect(err.message).toContain('clean/near-miss.txt');
  });

  it('a sample that triggers another rule too fails', async () => {
    const dir = await copyFixture();
    await writeFile(
      join(dir, 'samples/gh_test_marker_alpha/marker.txt'),
      'GLASSHOUSE-TEST-ALPHA gh-gamma-1234-end',
    );
    const err = await failure(build(dir));
    expect(err.code).toBe('RULES_SAMPLE_EXTRA_MATCH');
    expect(err.evidence).toMatchObject({
      rule: 'gh_test_marker_alpha',
      extra: ['gh_test_regex_gamma'],
    });
  });

  it('a rule without a sample fails, naming the rule', async () => {
    const dir = await copyFixture();
    await rm(join(dir, 'samples/gh_test_hex_beta'), { recursive: true });
    const err = await failure(build(dir));
    expect(err.code).toBe('RULES_SAMPLE_MISSING');
    expect(err.message).toContain('gh_test_hex_beta');
  });

  it('a syntax error fails, naming the file', async () => {
    const dir = await copyFixture();
    await writeFile(
      join(dir, 'rules/structure/broken.yar'),
      'rule broken { condition: nonexistent_identifier }\n',
    );
    const err = await failure(build(dir));
    expect(err.code).toBe('RULES_SYNTAX');
    expect(err.message).toContain('rules/structure/broken.yar');
    expect(err.evidence).toMatchObject({ file: 'rules/structure/broken.yar' });
  });

  it('a symlink in the inputs is refused', async () => {
    const dir = await copyFixture();
    execFileSync('ln', ['-s', '/etc/hostname', join(dir, 'clean/link.txt')]);
    const err = await failure(build(dir));
    expect(err.code).toBe('RULES_BAD_FILE');
  });
});

describe('rules build across engines', () => {
  it('a rule only yara-x accepts (a `with` statement) fails the build', async (ctx) => {
    if (debianVersion === undefined) ctx.skip();
    const dir = await copyFixture();
    await writeFile(
      join(dir, 'rules/with.yar'),
      'rule gh_test_with { strings: $a = "GH-WITH" condition: with n = #a: (n > 0) }\n',
    );
    await mkdir(join(dir, 'samples/gh_test_with'));
    await writeFile(join(dir, 'samples/gh_test_with/marker.txt'), 'GH-WITH');
    // yara-x alone accepts it
    await expect(build(dir, 'off')).resolves.toBeDefined();
    const err = await failure(build(dir, 'auto'));
    expect(err.code).toBe('RULES_ENGINE_DISAGREE');
    expect(err.message).toContain('rules/with.yar');
  });

  it('a rule only Debian yarac accepts (an empty range) fails in yara-x first', async () => {
    const dir = await copyFixture();
    await writeFile(
      join(dir, 'rules/range.yar'),
      'rule gh_test_range { strings: $a = "x" condition: $a in (10..5) }\n',
    );
    const err = await failure(build(dir, 'auto'));
    expect(err.code).toBe('RULES_SYNTAX');
    expect(err.message).toContain('rules/range.yar');
  });

  it('a sample Debian yara does not match fails, naming the engine', async (ctx) => {
    if (debianVersion === undefined) ctx.skip();
    const dir = await copyFixture();
    // A yara that hides one rule's matches in the sample scan, as a divergent engine would.
    const fake = join(dir, 'divergent-yara');
    await writeFile(
      fake,
      `#!/bin/sh\nyara "$@" | grep -v '^gh_test_hex_beta .*/samples/'\nexit 0\n`,
      {
        mode: 0o755,
      },
    );
    const err = await failure(
      buildRulesBundle({
        sourceDir: dir,
        recipe: await recipeOf(dir),
        sourceDateEpoch: EPOCH,
        debianYara: 'require',
        debianYaraPaths: { yara: fake, yarac: 'yarac' },
      }),
    );
    expect(err.code).toBe('RULES_SAMPLE_NOT_MATCHED');
    expect(err.evidence).toMatchObject({
      rule: 'gh_test_hex_beta',
      engine: `yara ${debianVersion ?? ''}`,
    });
  });

  it('require mode fails when Debian yara is absent', async () => {
    const dir = await copyFixture();
    const err = await failure(
      buildRulesBundle({
        sourceDir: dir,
        recipe: await recipeOf(dir),
        sourceDateEpoch: EPOCH,
        debianYara: 'require',
        debianYaraPaths: { yara: '/nonexistent/yara', yarac: '/nonexistent/yarac' },
      }),
    );
    expect(err.code).toBe('RULES_ENGINE_MISSING');
  });
});
