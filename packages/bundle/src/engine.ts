/**
 * The YARA engine port. A rule set is compiled once, in one call, and then
 * scans many inputs; adapters (the WebAssembly build of YARA-X today) sit
 * behind it so that the build, the supervisor and the endpoint run the same
 * engine through the same code.
 */

export interface RuleSource {
  /** Where the source comes from; named in errors. */
  readonly path: string;
  readonly text: string;
}

/** A compiled rule set, ready to scan. */
export interface CompiledRules {
  /** The compiler's warnings, in order. */
  readonly warnings: readonly string[];
  /**
   * Names of the public rules that match `data`, sorted (private rules are
   * left out, as the `yara` CLI does). MUST throw `RULES_ENGINE_FAILED` when
   * the engine fails rather than return a partial list.
   */
  scan(data: Uint8Array): string[];
  /** Releases the engine's memory; the set MUST NOT be used afterwards. */
  free(): void;
}

export interface YaraEngine {
  /** The engine's name as recorded in manifests (`yara-x`). */
  readonly name: string;
  /** The engine's version as recorded in manifests. */
  readonly version: string;
  /**
   * Compiles `sources` in order into one namespace. A source that does not
   * compile MUST throw `RULES_SYNTAX` naming its path (`evidence.file`) and
   * carrying the engine's diagnostic.
   */
  compile(sources: readonly RuleSource[]): CompiledRules;
}
