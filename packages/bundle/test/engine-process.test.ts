import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { rejectionCode } from '../../errors/test/codes.js';
import { EngineProcess, matchedRuleNames, scanProcessesFor } from '../src/index.js';

const read = (name: string): string =>
  readFileSync(new URL(`./engine/${name}`, import.meta.url), 'utf8');

describe('EngineProcess', () => {
  it('compiles once in a child process and scans every batch sent to it', async () => {
    const progress: number[] = [];
    const engine = await EngineProcess.start(
      { engine: 'native', sources: [{ path: 'rules/features.yar', text: read('features.yar') }] },
      { onProgress: (done) => progress.push(done) },
    );
    try {
      expect(engine.engine).toMatchObject({ name: 'yara-x', binding: 'native', version: '1.20.0' });
      expect(engine.notice).toBeUndefined();
      const first = await engine.scan([Buffer.from('xx plain-marker'), new Uint8Array(0)]);
      expect(first.map(matchedRuleNames)).toEqual([
        ['gate_small_files', 'text_plain'],
        ['gate_small_files'],
      ]);
      const second = await engine.scan([Buffer.from('PLAIN-MARKER')]);
      expect(second.map(matchedRuleNames)).toEqual([['gate_small_files']]);
    } finally {
      engine.close();
    }
  });

  it("scans in several processes, the extra ones loading the first one's compiled set", async () => {
    const inputs: Uint8Array[] = [];
    const expected: string[][] = [];
    // 2,000 inputs: several batches, so every process gets some.
    for (let i = 0; i < 2_000; i++) {
      const hit = i % 3 === 0;
      inputs.push(Buffer.from(hit ? `xx plain-marker ${i}` : `nothing ${i}`));
      expected.push(hit ? ['gate_small_files', 'text_plain'] : ['gate_small_files']);
    }
    const progress: number[] = [];
    const engine = await EngineProcess.start(
      {
        engine: 'native',
        sources: [{ path: 'rules/features.yar', text: read('features.yar') }],
        limits: { timeoutMs: 5_000 },
      },
      { processes: 2, onProgress: (done) => progress.push(done) },
    );
    try {
      // Once the helpers have had time to load, a scan spreads over them all.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const results = await engine.scan(inputs);
      expect(results.map(matchedRuleNames)).toEqual(expected);
      expect(progress.at(-1)).toBe(inputs.length);
      const again = await engine.scan([Buffer.from('xx plain-marker')]);
      expect(again.map(matchedRuleNames)).toEqual([['gate_small_files', 'text_plain']]);
    } finally {
      engine.close();
    }
  });

  it('proposes one process per 2,500 scans, within the cores', () => {
    expect(scanProcessesFor(0)).toBe(1);
    expect(scanProcessesFor(2_499)).toBe(1);
    expect(scanProcessesFor(10_005)).toBe(Math.min(4, availableParallelism()));
  });

  it('passes compile errors back with their code and evidence', async () => {
    const start = EngineProcess.start({
      engine: 'native',
      sources: [{ path: 'rules/bad.yar', text: '\nrule x { condition: nope }' }],
    });
    await expect(start).rejects.toMatchObject({
      code: 'RULES_SYNTAX',
      evidence: { file: 'rules/bad.yar', line: 2 },
    });
  });

  it('is cancelled at once, even inside a runaway scan', async () => {
    const controller = new AbortController();
    const engine = await EngineProcess.start(
      {
        engine: 'native',
        sources: [{ path: 'rules/runaway.yar', text: read('pathological.yar') }],
        limits: { timeoutMs: 60_000 },
      },
      { signal: controller.signal },
    );
    const scan = engine.scan([new Uint8Array(1024 * 1024)]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const aborted = performance.now();
    controller.abort();
    expect(await rejectionCode(scan)).toBe('RULES_CANCELLED');
    expect(performance.now() - aborted).toBeLessThan(100);
    expect(await rejectionCode(engine.scan([new Uint8Array(1)]))).toBe('RULES_CANCELLED');
  });
});
