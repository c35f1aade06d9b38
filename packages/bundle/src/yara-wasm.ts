import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Compiler, initSync, type Rules, type Scanner } from '@virustotal/yara-x';
import {
  resolveScanLimits,
  type CompiledRules,
  type RuleMatch,
  type RuleSource,
  type ScanResult,
  type YaraEngine,
} from './engine.js';
import { BundleError } from './errors.js';
import { firstDiagnosticLocation, oneLine, relocateDiagnostic } from './rule-lines.js';

/**
 * The YARA engine adapter over `@virustotal/yara-x`, the WebAssembly build of
 * YARA-X: portable, in process, one thread. Kept as the fallback where the
 * native binding does not load. Its limits, measured with YARA-X 1.20: every
 * `scan()` instantiates a new engine module (~100 ms with 10,000 rules,
 * whatever the input size), and the scan timeout is ignored, so
 * `enforcesTimeout` is false.
 */

const require = createRequire(import.meta.url);
let initialised = false;
let engine: YaraEngine | undefined;

/** The installed `@virustotal/yara-x` package version, which is its YARA-X version. */
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

/** The WebAssembly YARA-X engine; the module is instantiated on first use. */
export function wasmYaraEngine(): YaraEngine {
  if (engine !== undefined) return engine;
  const version = yaraXVersion();
  engine = {
    name: 'yara-x',
    version,
    binding: 'wasm',
    package: `@virustotal/yara-x@${version}`,
    enforcesTimeout: false,
    compile(sources, limits) {
      initYaraX();
      return compile(sources, limits);
    },
  };
  return engine;
}

function compile(
  sources: readonly RuleSource[],
  requested: Parameters<YaraEngine['compile']>[1],
): CompiledRules {
  const limits = resolveScanLimits(requested);
  const compiler = new Compiler();
  let rules: Rules;
  const warnings: string[] = [];
  try {
    for (const source of sources) {
      const before = compiler.warnings.length;
      try {
        compiler.addSource(source.text);
      } catch (cause) {
        throw syntaxError(source, cause);
      }
      // Each source's warnings count lines from its own start.
      for (const w of compiler.warnings.slice(before)) {
        warnings.push(
          oneLine(relocateDiagnostic(w, (line, column) => ({ file: source.path, line, column }))),
        );
      }
    }
    try {
      rules = compiler.build();
    } catch (cause) {
      throw new BundleError('RULES_SYNTAX', 'yara-x could not build the rule set', {
        cause,
        evidence: { engine: 'yara-x', binding: 'wasm' },
      });
    }
  } finally {
    compiler.free();
  }
  // Creating a scanner costs time in proportion to the rule count: one
  // serves every scan of this set.
  let scanner: Scanner | undefined;
  const open = (): Scanner => {
    if (scanner === undefined) {
      scanner = rules.scanner();
      scanner.setTimeoutMs(limits.timeoutMs);
      scanner.setMaxMatchesPerPattern(limits.maxMatchesPerPattern);
    }
    return scanner;
  };
  const scan = (data: Uint8Array, path: string | undefined): ScanResult => {
    let result: unknown;
    try {
      result = open().scan(data);
    } catch (cause) {
      throw new BundleError(
        'RULES_ENGINE_FAILED',
        `yara-x (wasm) failed to scan${path === undefined ? '' : ` ${path}`}`,
        {
          cause,
          evidence: { engine: 'yara-x', binding: 'wasm', path },
        },
      );
    }
    return { status: 'ok', matches: publicMatches(result) };
  };
  return {
    warnings,
    scan: (data) => scan(data, undefined),
    scanFile(path) {
      let data: Uint8Array;
      try {
        data = readFileSync(path);
      } catch (cause) {
        throw new BundleError('RULES_ENGINE_FAILED', `cannot read ${path}`, {
          cause,
          evidence: { path },
        });
      }
      return scan(data, path);
    },
    free() {
      scanner?.free();
      scanner = undefined;
      rules.free();
    },
  };
}

function syntaxError(source: RuleSource, cause: unknown): BundleError {
  const diagnostic = cause instanceof Error ? cause.message : 'unknown error';
  const at = firstDiagnosticLocation(diagnostic);
  const shown = relocateDiagnostic(diagnostic, (line, column) => ({
    file: source.path,
    line,
    column,
  }));
  return new BundleError(
    'RULES_SYNTAX',
    `${at === undefined ? source.path : `${source.path}:${at.line}`}: yara-x refuses it: ${oneLine(shown)}`,
    {
      cause,
      evidence: {
        file: source.path,
        line: at?.line,
        column: at?.column,
        engine: 'yara-x',
        binding: 'wasm',
        diagnostic: shown,
      },
    },
  );
}

/** Public rules of a yara-x scan result, sorted by name, with their tags. */
function publicMatches(result: unknown): RuleMatch[] {
  const matches = (result as { matches?: unknown } | null)?.matches;
  if (!Array.isArray(matches)) {
    throw new BundleError('RULES_ENGINE_FAILED', 'yara-x returned no match list');
  }
  const out: RuleMatch[] = [];
  for (const m of matches as unknown[]) {
    const { identifier, isPrivate, tags } = m as {
      identifier?: unknown;
      isPrivate?: unknown;
      tags?: unknown;
    };
    if (typeof identifier !== 'string' || !Array.isArray(tags)) {
      throw new BundleError(
        'RULES_ENGINE_FAILED',
        'yara-x returned a match without identifier or tags',
      );
    }
    if (isPrivate === true) continue;
    out.push({ rule: identifier, tags: tags.map(String) });
  }
  return out.sort((a, b) => (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0));
}
