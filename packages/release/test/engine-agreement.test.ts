import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareBytes,
  matchedRuleNames,
  nativeYaraEngine,
  wasmYaraEngine,
  type RuleSource,
} from '@glasshouse/bundle';
import { generateRulesRepo } from '../bench/generate-rules.js';

/**
 * The native and the WebAssembly YARA-X builds must agree on every sample
 * and clean file of the test (and demo) rule set and of a generated set:
 * the bundle records one engine version whichever build tested it.
 */

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out.sort(compareBytes);
}

async function ruleSet(dir: string): Promise<{ sources: RuleSource[]; inputs: string[] }> {
  const ruleFiles = (await filesUnder(join(dir, 'rules'))).filter((f) => f.endsWith('.yar'));
  const sources = await Promise.all(
    ruleFiles.map(async (f) => ({ path: relative(dir, f), text: await readFile(f, 'utf8') })),
  );
  const inputs = [
    ...(await filesUnder(join(dir, 'samples'))),
    ...(await filesUnder(join(dir, 'clean'))),
  ];
  return { sources, inputs };
}

async function expectAgreement(dir: string): Promise<number> {
  const { sources, inputs } = await ruleSet(dir);
  const native = nativeYaraEngine().compile(sources);
  const wasm = wasmYaraEngine().compile(sources);
  try {
    for (const input of inputs) {
      const data = await readFile(input);
      const a = native.scan(data);
      const b = wasm.scan(data);
      expect(a.status, input).toBe('ok');
      expect(a, relative(dir, input)).toEqual(b);
    }
  } finally {
    native.free();
    wasm.free();
  }
  return inputs.length;
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'engine-agreement-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('native and wasm YARA-X agree', () => {
  it('on every file of the test and demo rule set', async () => {
    const dir = new URL('../testdata/rules/', import.meta.url).pathname;
    expect(await expectAgreement(dir)).toBeGreaterThan(5);
  });

  it('on every file of a generated 300-rule set (all five rule shapes)', async () => {
    const repo = await generateRulesRepo(join(work, 'generated'), { rules: 300 });
    expect(await expectAgreement(repo.dir)).toBe(300 + repo.cleanFiles);
    // And the set's samples each match exactly their own rule.
    const { sources, inputs } = await ruleSet(repo.dir);
    const rules = nativeYaraEngine().compile(sources);
    try {
      for (const input of inputs.filter((f) => f.includes('/samples/'))) {
        const rule = relative(join(repo.dir, 'samples'), input).split('/')[0];
        expect(matchedRuleNames(rules.scan(await readFile(input)))).toEqual([rule]);
      }
    } finally {
      rules.free();
    }
  });
});
