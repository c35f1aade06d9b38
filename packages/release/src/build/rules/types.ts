import type { EngineChoice, EngineDescription, RulesManifest } from '@glasshouse/bundle';
import type { DebianYaraPaths } from '../debian-yara.js';
import type { RulesRecipe } from '../recipe.js';

/** Input bounds of a rules build. */
export interface RulesLimits {
  readonly maxRuleFileBytes: number;
  readonly maxRulesBytes: number;
  readonly maxSampleBytes: number;
  readonly maxFiles: number;
  readonly maxTotalBytes: number;
}

export const DEFAULT_RULES_LIMITS: RulesLimits = {
  maxRuleFileBytes: 8 * 1024 * 1024,
  maxRulesBytes: 64 * 1024 * 1024,
  maxSampleBytes: 16 * 1024 * 1024,
  maxFiles: 50_000,
  maxTotalBytes: 256 * 1024 * 1024,
};

/**
 * `auto` cross-checks with Debian `yara`/`yarac` when installed and notes
 * their absence otherwise; `require` fails with `RULES_ENGINE_MISSING` when
 * they are absent; `off` skips them.
 */
export type DebianYaraMode = 'auto' | 'require' | 'off';

/** What the build process is sent: every option but the callbacks. */
export interface RulesJobOptions {
  /** Root of the checked-out source; recipe paths are relative to it. */
  readonly sourceDir: string;
  readonly recipe: RulesRecipe;
  /** Seconds since the epoch, from the commit; every mtime in the bundle. */
  readonly sourceDateEpoch: number;
  readonly debianYara?: DebianYaraMode;
  readonly debianYaraPaths?: DebianYaraPaths;
  /** Compress the tar with `gzipDeterministic`. Default false. */
  readonly gzip?: boolean;
  /** Scratch space for the Debian cross-check (default: the OS temp dir). */
  readonly tmpDir?: string;
  readonly limits?: RulesLimits;
  /**
   * The YARA-X build the bundle is compiled and tested with: `auto` (the
   * default) is the native binding where it loads, else the WebAssembly build.
   */
  readonly engine?: EngineChoice;
  /**
   * Go on with an engine that cannot time out a scan (the WebAssembly
   * build). Default false: such a build fails with `RULES_ENGINE_NO_TIMEOUT`.
   */
  readonly allowEngineWithoutTimeout?: boolean;
  /**
   * Per-scan limit of the sample tests; a sample that hits it fails the
   * build. Default 10 s. YARA-X checks it about once a second, so the scan
   * stops within about a second after the limit.
   */
  readonly scanTimeoutMs?: number;
  /**
   * Also hash every regular file of `sourceDir` (the in-toto link's
   * materials, see `hashSourceTree`) in the build process, reusing the
   * bytes the build reads anyway. Default false.
   */
  readonly hashSource?: boolean;
}

export interface RulesBuildOptions extends RulesJobOptions {
  readonly onProgress?: (message: string) => void;
  /** Aborting kills the build process and its engines at once; the build fails with `RULES_CANCELLED`. */
  readonly signal?: AbortSignal;
}

export type CrossCheck =
  | { readonly engine: 'yara'; readonly status: 'passed'; readonly version: string }
  | { readonly engine: 'yara'; readonly status: 'not-installed' | 'disabled' };

export interface RulesBuildResult {
  /** The bundle: a ustar archive, gzip-compressed when asked. */
  readonly bundle: Uint8Array;
  /** SHA-256 of `bundle`, as an in-toto digest set. */
  readonly digest: { readonly sha256: string };
  readonly manifest: RulesManifest;
  /** Whether Debian's engine confirmed the build (not part of the bundle). */
  readonly crossCheck: CrossCheck;
  /** The YARA-X build that compiled and tested the rules (for the provenance). */
  readonly engine: EngineDescription;
  /** Everything reported through `onProgress`, in order. */
  readonly log: string[];
  /** With `hashSource`: SHA-256 of every regular source file by relative path. */
  readonly materials?: Readonly<Record<string, string>>;
}
