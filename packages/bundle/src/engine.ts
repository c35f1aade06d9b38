import { BundleError } from './errors.js';

/**
 * The YARA engine port. A rule set is compiled once, in one call, and then
 * scans many inputs; adapters sit behind it so that the build, the
 * supervisor and the endpoint run the same engine through the same code:
 * the native Node binding of YARA-X where it loads (`yara-native.ts`), the
 * WebAssembly build elsewhere (`yara-wasm.ts`).
 */

export interface RuleSource {
  /** Where the source comes from; named in errors. */
  readonly path: string;
  readonly text: string;
}

/** One public rule that matched, with its tags in declaration order. */
export interface RuleMatch {
  readonly rule: string;
  readonly tags: readonly string[];
}

/**
 * What one scan found. A scan that ran out of time is a result, not an
 * error: the caller reports the input and goes on with the next one.
 */
export type ScanResult =
  | {
      readonly status: 'ok';
      /** Public rules that matched, sorted by name (private rules are left out, as the `yara` CLI does). */
      readonly matches: readonly RuleMatch[];
    }
  | { readonly status: 'timeout'; readonly timeoutMs: number };

/** Bounds applied to every scan of a compiled set. */
export interface ScanLimits {
  /**
   * Wall-clock limit of one scan. YARA-X checks it once a second, so a scan
   * stops between `timeoutMs` and `timeoutMs` rounded up to whole seconds
   * plus one second; adapters without `enforcesTimeout` ignore it.
   */
  readonly timeoutMs: number;
  /** Matches recorded per pattern; further occurrences are not counted (`#a` stops there). */
  readonly maxMatchesPerPattern: number;
}

export const DEFAULT_SCAN_LIMITS: ScanLimits = {
  timeoutMs: 10_000,
  maxMatchesPerPattern: 1_000_000,
};

/** A compiled rule set, ready to scan. */
export interface CompiledRules {
  /** The compiler's warnings, in order, one line each (`file:line:column: text`). */
  readonly warnings: readonly string[];
  /** MUST throw `RULES_ENGINE_FAILED` when the engine fails rather than return a partial list. */
  scan(data: Uint8Array): ScanResult;
  /**
   * Scans a file by path. The caller has checked it is a regular file within
   * its size limit; MUST throw `RULES_ENGINE_FAILED` when it cannot be read.
   */
  scanFile(path: string): ScanResult;
  /** Releases the engine's memory; the set MUST NOT be used afterwards. */
  free(): void;
  /**
   * The compiled set as bytes that `load` of the same engine turns back
   * into the same rules, so another process can scan with it without
   * compiling again. Absent when the adapter cannot serialize.
   */
  serialize?(): Uint8Array;
}

/** Which build of YARA-X an adapter runs. */
export type EngineBinding = 'native' | 'wasm';

export interface YaraEngine {
  /** The engine's name as recorded in manifests (`yara-x`). */
  readonly name: string;
  /** The YARA-X version (e.g. `1.20.0`) as recorded in manifests and provenance. */
  readonly version: string;
  readonly binding: EngineBinding;
  /** The npm package and version that provides it (`@litko/yara-x-linux-x64-gnu@0.7.2`). */
  readonly package: string;
  /** False when the engine ignores `ScanLimits.timeoutMs` (the WebAssembly build). */
  readonly enforcesTimeout: boolean;
  /**
   * Compiles `sources` in order into one namespace, in one compiler pass. A
   * source that does not compile MUST throw `RULES_SYNTAX` whose evidence
   * names the file, line and column (`evidence.file`, `.line`, `.column`)
   * and carries the engine's diagnostic.
   */
  compile(sources: readonly RuleSource[], limits?: Partial<ScanLimits>): CompiledRules;
  /**
   * Loads a set that `serialize` of this same engine produced. The bytes
   * hold the engine's generated machine code and are not validated as
   * sources are: callers MUST pass only bytes a `serialize` of their own
   * produced in the same run, never bytes read from a file or the network.
   * Absent when the adapter cannot load serialized rules.
   */
  load?(serialized: Uint8Array, limits?: Partial<ScanLimits>): CompiledRules;
}

/** The sorted public rule names of a result (empty for a timeout). */
export function matchedRuleNames(result: ScanResult): string[] {
  return result.status === 'ok' ? result.matches.map((m) => m.rule) : [];
}

const MAX_LIMIT = 2 ** 31 - 1;

/** `limits` over the defaults, checked: both are whole numbers from 1 to 2^31 − 1. */
export function resolveScanLimits(limits: Partial<ScanLimits> = {}): ScanLimits {
  const resolved = { ...DEFAULT_SCAN_LIMITS, ...limits };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value < 1 || value > MAX_LIMIT) {
      throw new BundleError(
        'RULES_ENGINE_BAD_LIMIT',
        `${name} must be an integer from 1 to ${MAX_LIMIT}`,
        {
          evidence: { [name]: value },
        },
      );
    }
  }
  return resolved;
}
