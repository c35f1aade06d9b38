import { createRequire } from 'node:module';
import {
  resolveScanLimits,
  type CompiledRules,
  type RuleMatch,
  type RuleSource,
  type ScanLimits,
  type ScanResult,
  type YaraEngine,
} from './engine.js';
import { BundleError } from './errors.js';
import {
  firstDiagnosticLocation,
  joinSources,
  locateLine,
  oneLine,
  relocateDiagnostic,
  type JoinedSources,
} from './rule-lines.js';

/**
 * The YARA engine adapter over the native Node binding of YARA-X
 * (`@litko/yara-x`, napi-rs). The registry's umbrella package `@litko/yara-x`
 * stops at 0.3.0 (YARA-X 1.7.1), so the platform package is a direct,
 * exactly pinned, optional dependency and is loaded with `createRequire`.
 *
 * Why these calls: `compile()` takes the whole set in one pass
 * (`addRuleSource` recompiles everything added so far, quadratic in the
 * number of files); the synchronous `scan()` reuses one scanner kept inside
 * the compiled instance (`scanAsync` builds a scanner per call).
 */

export const NATIVE_PACKAGE = '@litko/yara-x-linux-x64-gnu';
/** Pinned: the YARA-X version below is what this binding release embeds. */
export const NATIVE_PACKAGE_VERSION = '0.7.2';
export const NATIVE_YARA_X_VERSION = '1.20.0';

/** The part of the binding's API (its `index.d.ts`, 0.7.x) this adapter uses. */
interface NativeDiagnostic {
  readonly code: string;
  readonly message: string;
}
interface NativeRuleMatch {
  readonly ruleIdentifier: string;
  readonly tags: readonly string[];
}
interface NativeRules {
  getWarnings(): NativeDiagnostic[];
  setTimeout(timeoutMs: number): void;
  setMaxMatchesPerPattern(maxMatches: number): void;
  scan(data: Buffer): NativeRuleMatch[];
  scanFile(filePath: string): NativeRuleMatch[];
  serialize(): Buffer;
}
interface NativeBinding {
  compile(ruleSource: string): NativeRules;
  validate(ruleSource: string): {
    readonly warnings: NativeDiagnostic[];
    readonly errors: NativeDiagnostic[];
  };
  deserialize(data: Buffer): NativeRules;
}

/** napi-rs maps YARA-X's `ScanError::Timeout` (and nothing else) to status `Cancelled`. */
const TIMEOUT_STATUS = 'Cancelled';

const require = createRequire(import.meta.url);
let loaded: YaraEngine | undefined;

/**
 * The native YARA-X engine. Throws `RULES_ENGINE_UNAVAILABLE` when the
 * binding is not installed for this platform, is not the pinned release, or
 * does not load.
 */
export function nativeYaraEngine(): YaraEngine {
  if (loaded !== undefined) return loaded;
  let binding: NativeBinding;
  try {
    const pkg: unknown = require(`${NATIVE_PACKAGE}/package.json`);
    const version = (pkg as { version?: unknown }).version;
    if (version !== NATIVE_PACKAGE_VERSION) {
      throw new BundleError(
        'RULES_ENGINE_UNAVAILABLE',
        `${NATIVE_PACKAGE} is ${String(version)}, not the pinned ${NATIVE_PACKAGE_VERSION}`,
        { evidence: { package: NATIVE_PACKAGE, version } },
      );
    }
    binding = require(NATIVE_PACKAGE) as NativeBinding;
  } catch (cause) {
    if (cause instanceof BundleError) throw cause;
    throw new BundleError(
      'RULES_ENGINE_UNAVAILABLE',
      `the native YARA-X binding ${NATIVE_PACKAGE} does not load on ${process.platform}/${process.arch}`,
      { cause, evidence: { package: NATIVE_PACKAGE } },
    );
  }
  loaded = {
    name: 'yara-x',
    version: NATIVE_YARA_X_VERSION,
    binding: 'native',
    package: `${NATIVE_PACKAGE}@${NATIVE_PACKAGE_VERSION}`,
    enforcesTimeout: true,
    compile: (sources, limits) => compile(binding, sources, limits),
    load: (serialized, limits) => load(binding, serialized, limits),
  };
  return loaded;
}

function compile(
  binding: NativeBinding,
  sources: readonly RuleSource[],
  requested: Parameters<YaraEngine['compile']>[1],
): CompiledRules {
  const limits = resolveScanLimits(requested);
  const joined = joinSources(sources);
  const locate = (line: number, column: number) => locateLine(joined, sources, line, column);
  let rules: NativeRules;
  try {
    rules = binding.compile(joined.text);
  } catch (cause) {
    throw compileError(binding, joined, sources, cause);
  }
  const warnings = rules.getWarnings().map((w) => oneLine(relocateDiagnostic(w.message, locate)));
  return compiledRules(rules, limits, warnings);
}

/** Rules from `serialize` of this binding (trusted bytes only: see `YaraEngine.load`). */
function load(
  binding: NativeBinding,
  serialized: Uint8Array,
  requested: Parameters<YaraEngine['compile']>[1],
): CompiledRules {
  const limits = resolveScanLimits(requested);
  let rules: NativeRules;
  try {
    rules = binding.deserialize(
      Buffer.from(serialized.buffer, serialized.byteOffset, serialized.byteLength),
    );
  } catch (cause) {
    throw new BundleError('RULES_ENGINE_FAILED', 'yara-x (native) cannot load the rule set', {
      cause,
      evidence: { engine: 'yara-x', binding: 'native', bytes: serialized.byteLength },
    });
  }
  return compiledRules(rules, limits, []);
}

function compiledRules(
  rules: NativeRules,
  limits: ScanLimits,
  warnings: readonly string[],
): CompiledRules {
  rules.setTimeout(limits.timeoutMs);
  rules.setMaxMatchesPerPattern(limits.maxMatchesPerPattern);
  let freed = false;
  const live = (): NativeRules => {
    if (freed) throw new BundleError('RULES_ENGINE_FAILED', 'the rule set was freed');
    return rules;
  };
  return {
    warnings,
    scan(data) {
      const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      return run(() => live().scan(buffer), limits.timeoutMs, undefined);
    },
    scanFile(path) {
      return run(() => live().scanFile(path), limits.timeoutMs, path);
    },
    free() {
      // The binding frees the compiled rules with its JavaScript object.
      freed = true;
    },
    serialize() {
      const bytes = live().serialize();
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  };
}

function run(
  scan: () => NativeRuleMatch[],
  timeoutMs: number,
  path: string | undefined,
): ScanResult {
  let found: NativeRuleMatch[];
  try {
    found = scan();
  } catch (cause) {
    if ((cause as { code?: unknown } | null)?.code === TIMEOUT_STATUS) {
      return { status: 'timeout', timeoutMs };
    }
    if (cause instanceof BundleError) throw cause;
    throw new BundleError(
      'RULES_ENGINE_FAILED',
      `yara-x (native) failed to scan${path === undefined ? '' : ` ${path}`}`,
      {
        cause,
        evidence: { engine: 'yara-x', binding: 'native', path },
      },
    );
  }
  // Private rules never appear here; global rules do, as in the yara CLI.
  const matches: RuleMatch[] = found.map((m) => ({ rule: m.ruleIdentifier, tags: [...m.tags] }));
  matches.sort((a, b) => (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0));
  return { status: 'ok', matches };
}

/** `RULES_SYNTAX` naming the file and line of the first error. */
function compileError(
  binding: NativeBinding,
  joined: JoinedSources,
  sources: readonly RuleSource[],
  cause: unknown,
): BundleError {
  const locate = (line: number, column: number) => locateLine(joined, sources, line, column);
  // `validate` returns the errors as data (code, message); `compile` only threw the first as text.
  const first = binding.validate(joined.text).errors[0];
  const diagnostic = first?.message ?? (cause instanceof Error ? cause.message : String(cause));
  const at = firstDiagnosticLocation(diagnostic);
  const where = at === undefined ? undefined : locate(at.line, at.column);
  const shown = relocateDiagnostic(diagnostic, locate);
  return new BundleError(
    'RULES_SYNTAX',
    `${where === undefined ? 'rule set' : `${where.file}:${where.line}`}: yara-x refuses it: ${oneLine(shown)}`,
    {
      cause,
      evidence: {
        file: where?.file,
        line: where?.line,
        column: where?.column,
        engine: 'yara-x',
        binding: 'native',
        code: first?.code,
        diagnostic: shown,
      },
    },
  );
}
