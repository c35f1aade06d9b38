import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { nativeYaraEngine, type CompiledRules } from '@glasshouse/bundle';
import { scanPaths, type ScanRecord } from '../src/scan.js';

// A rule quadratic in the file size, from the engine contract's test data.
const runaway = readFileSync(
  new URL('../../bundle/test/engine/pathological.yar', import.meta.url),
  'utf8',
);

let dir: string;
let rules: CompiledRules;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agent-scan-timeout-'));
  await writeFile(join(dir, 'a-large.bin'), new Uint8Array(1024 * 1024));
  await writeFile(join(dir, 'b-small.bin'), new Uint8Array(8));
  rules = nativeYaraEngine().compile([{ path: 'rules/runaway.yar', text: runaway }], {
    timeoutMs: 100,
  });
});

afterAll(async () => {
  rules.free();
  await rm(dir, { recursive: true, force: true });
});

it('reports a file whose scan times out and goes on with the next one', async () => {
  const records: ScanRecord[] = [];
  const started = performance.now();
  const summary = await scanPaths(rules, [dir], {}, (r) => records.push(r));
  expect(performance.now() - started).toBeLessThan(5_000);
  expect(records).toEqual([
    {
      type: 'skipped',
      path: join(dir, 'a-large.bin'),
      reason: 'timeout',
      detail: 'scan took longer than 100 ms',
    },
    { type: 'match', path: join(dir, 'b-small.bin'), bytes: 8, rules: ['runaway_loop'] },
  ]);
  expect(summary).toMatchObject({ files: 1, matches: 1, skipped: 1 });
});
