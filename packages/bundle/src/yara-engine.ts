import type { EngineBinding, YaraEngine } from './engine.js';
import { BundleError } from './errors.js';
import { nativeYaraEngine } from './yara-native.js';
import { wasmYaraEngine } from './yara-wasm.js';

/** `auto`: the native binding where it loads, else the WebAssembly build. */
export type EngineChoice = 'auto' | EngineBinding;

export interface EngineSelection {
  readonly engine: YaraEngine;
  /**
   * Set when the engine is the WebAssembly fallback: one line for the
   * operator (why, and what it lacks). Callers print it once.
   */
  readonly notice: string | undefined;
}

const WASM_LIMITS =
  'the WebAssembly build of YARA-X, which ignores scan timeouts and is ~100x slower per scan';

/**
 * Picks the YARA engine. `native` throws `RULES_ENGINE_UNAVAILABLE` where the
 * binding does not load; `auto` falls back to the WebAssembly build and says
 * so in `notice`.
 */
export function selectYaraEngine(choice: EngineChoice = 'auto'): EngineSelection {
  switch (choice) {
    case 'native':
      return { engine: nativeYaraEngine(), notice: undefined };
    case 'wasm':
      return { engine: wasmYaraEngine(), notice: `using ${WASM_LIMITS} (asked for)` };
    case 'auto':
      try {
        return { engine: nativeYaraEngine(), notice: undefined };
      } catch (cause) {
        if (!(cause instanceof BundleError) || cause.code !== 'RULES_ENGINE_UNAVAILABLE')
          throw cause;
        return { engine: wasmYaraEngine(), notice: `${cause.message}: using ${WASM_LIMITS}` };
      }
  }
}

/**
 * Refuses an engine that cannot stop a runaway scan, unless `allow`: one
 * careless or hostile rule would otherwise hang every scan that loads it.
 * Throws `RULES_ENGINE_NO_TIMEOUT`.
 */
export function requireScanTimeout(engine: YaraEngine, allow: boolean): void {
  if (engine.enforcesTimeout || allow) return;
  throw new BundleError(
    'RULES_ENGINE_NO_TIMEOUT',
    `${engine.package} cannot time out a scan; refusing to scan with rules that are not trusted (allow it explicitly to go on)`,
    { evidence: { engine: engine.name, binding: engine.binding, package: engine.package } },
  );
}
