import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Compiler, initSync, type Rules } from '@virustotal/yara-x';
import type { CompiledRules, RuleSource, YaraEngine } from './engine.js';
import { BundleError } from './errors.js';

/**
 * The YARA engine adapter over `@virustotal/yara-x`, the WebAssembly build of
 * YARA-X: portable, in process, one thread.
 */

const require = createRequire(import.meta.url);
let initialised = false;
const SCAN_TIMEOUT_MS = 10_000;

/** The installed `@virustotal/yara-x` package version (recorded in manifests). */
function yaraXVersion(): string {
  const pkg: unknown = require('@virustotal/yara-x/package.json');
  const version = (pkg as { version?: unknown }).version;
  if (typeof version !== 'string') {
    throw new BundleError('RULES_ENGINE_FAILED', '@virustotal/yara-x has no version');
  }
  return version;
}

/** Instantiates the yara-x WebAssembly module once per process (synchronous init). */
function initYaraX(): void {
  if (initialised) return;
  const pkgDir = dirname(require.resolve('@virustotal/yara-x/package.json'));
  initSync({ module: readFileSync(join(pkgDir, 'pkg', 'yara_x_js_bg.wasm')) });
  initialised = true;
}

let engine: YaraEngine | undefined;

/** The WebAssembly YARA-X engine; the module is instantiated on first use. */
export function wasmYaraEngine(): YaraEngine {
  engine ??= {
    name: 'yara-x',
    version: yaraXVersion(),
    compile(sources) {
      initYaraX();
      return compile(sources);
    },
  };
  return engine;
}

function compile(sources: readonly RuleSource[]): CompiledRules {
  const compiler = new Compiler();
  let rules: Rules;
  let warnings: string[];
  try {
    for (const source of sources) {
      try {
        compiler.addSource(source.text);
      } catch (cause) {
        const detail = cause instanceof Error ? cause.message : 'unknown error';
        throw new BundleError('RULES_SYNTAX', `${source.path}: yara-x refuses it: ${detail}`, {
          cause,
          evidence: { file: source.path, engine: 'yara-x', diagnostic: detail },
        });
      }
    }
    warnings = [...compiler.warnings];
    try {
      rules = compiler.build();
    } catch (cause) {
      throw new BundleError('RULES_SYNTAX', 'yara-x could not build the rule set', { cause });
    }
  } finally {
    compiler.free();
  }
  // Creating a yara-x scanner costs time in proportion to the rule count, so
  // one scanner serves every scan of this set.
  let scanner: ReturnType<Rules['scanner']> | undefined;
  return {
    warnings,
    scan(data) {
      if (scanner === undefined) {
        scanner = rules.scanner();
        scanner.setTimeoutMs(SCAN_TIMEOUT_MS);
      }
      const result: unknown = scanner.scan(data);
      const matches = (result as { matches?: unknown }).matches;
      if (!Array.isArray(matches)) {
        throw new BundleError('RULES_ENGINE_FAILED', 'yara-x returned no match list');
      }
      return matches
        .filter((m: unknown) => (m as { isPrivate?: unknown }).isPrivate !== true)
        .map((m: unknown) => {
          const id = (m as { identifier?: unknown }).identifier;
          if (typeof id !== 'string') {
            throw new BundleError('RULES_ENGINE_FAILED', 'yara-x match without identifier');
          }
          return id;
        })
        .sort();
    },
    free() {
      scanner?.free();
      scanner = undefined;
      rules.free();
    },
  };
}
