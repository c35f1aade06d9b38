import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rejectionCode } from '../../errors/test/codes.js';
import { EngineProcess, matchedRuleNames } from '../src/index.js';

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
