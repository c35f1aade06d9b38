import type { CompiledRules, ScanResult } from './engine.js';
import type { ChildAnswer, ChildRequest } from './engine-process.js';
import { BundleError } from './errors.js';
import { selectYaraEngine } from './yara-engine.js';

/**
 * The engine process of `EngineProcess`: compiles the rule set it is sent
 * (or loads one another engine process compiled and serialized), then
 * scans the inputs of each `scan` request with it. It ends when its parent
 * closes the channel or goes away.
 */

const PROGRESS_MS = 500;
let rules: CompiledRules | undefined;

function answer(message: ChildAnswer): void {
  process.send?.(message);
}

function handle(request: ChildRequest): ChildAnswer {
  switch (request.type) {
    case 'compile': {
      if (rules !== undefined) throw new BundleError('RULES_ENGINE_FAILED', 'already compiled');
      const { engine, notice } = selectYaraEngine(request.request.engine);
      const started = performance.now();
      rules = engine.compile(request.request.sources, request.request.limits);
      const compileMs = performance.now() - started;
      const { name, version, binding, package: pkg, enforcesTimeout } = engine;
      return {
        type: 'compiled',
        engine: { name, version, binding, package: pkg, enforcesTimeout },
        notice,
        warnings: rules.warnings,
        compileMs,
        serialized:
          request.serialize && engine.load !== undefined ? rules.serialize?.() : undefined,
      };
    }
    case 'load': {
      if (rules !== undefined) throw new BundleError('RULES_ENGINE_FAILED', 'already compiled');
      const { engine } = selectYaraEngine(request.engine);
      if (engine.load === undefined) {
        throw new BundleError('RULES_ENGINE_FAILED', `${engine.package} cannot load rules`);
      }
      rules = engine.load(request.serialized, request.limits);
      return { type: 'loaded' };
    }
    case 'scan': {
      if (rules === undefined) throw new BundleError('RULES_ENGINE_FAILED', 'nothing compiled');
      const results: ScanResult[] = [];
      const total = request.inputs.length;
      let last = performance.now();
      for (const input of request.inputs) {
        results.push(rules.scan(input));
        if (performance.now() - last >= PROGRESS_MS) {
          last = performance.now();
          answer({ type: 'progress', done: results.length, total });
        }
      }
      return { type: 'scanned', results };
    }
  }
}

process.on('message', (request: ChildRequest) => {
  try {
    answer(handle(request));
  } catch (err) {
    const coded = err instanceof BundleError;
    answer({
      type: 'error',
      code: coded ? err.code : undefined,
      message: err instanceof Error ? err.message : String(err),
      evidence: coded ? { ...err.evidence } : undefined,
    });
  }
});
process.once('disconnect', () => process.exit(0));
