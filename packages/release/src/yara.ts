import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Compiler, initSync, type Rules } from '@virustotal/yara-x';
import { ReleaseError } from './errors.js';

/**
 * The two YARA engines. `@virustotal/yara-x` (WebAssembly) is the engine the
 * endpoint runs, so it is always used; Debian's `yara`/`yarac` 4.2.x is an
 * optional cross-check, driven as a subprocess.
 */

const require = createRequire(import.meta.url);
let initialised = false;

/** The installed `@virustotal/yara-x` package version (recorded in manifests). */
export function yaraXVersion(): string {
  const pkg: unknown = require('@virustotal/yara-x/package.json');
  const version = (pkg as { version?: unknown }).version;
  if (typeof version !== 'string') {
    throw new ReleaseError('RULES_ENGINE_FAILED', '@virustotal/yara-x has no version');
  }
  return version;
}

/** Instantiates the yara-x WebAssembly module once per process (synchronous init). */
export function initYaraX(): void {
  if (initialised) return;
  const pkgDir = dirname(require.resolve('@virustotal/yara-x/package.json'));
  initSync({ module: readFileSync(join(pkgDir, 'pkg', 'yara_x_js_bg.wasm')) });
  initialised = true;
}

export interface RuleSource {
  /** Where the source comes from; named in errors. */
  readonly path: string;
  readonly text: string;
}

export interface CompiledRules {
  readonly rules: Rules;
  readonly warnings: string[];
}

/**
 * Compiles `sources` in order into one namespace with yara-x. A source that
 * does not compile throws `RULES_SYNTAX` naming its path and carrying the
 * engine's diagnostic.
 */
export function compileWithYaraX(sources: readonly RuleSource[]): CompiledRules {
  initYaraX();
  const compiler = new Compiler();
  try {
    for (const source of sources) {
      try {
        compiler.addSource(source.text);
      } catch (cause) {
        const detail = cause instanceof Error ? cause.message : 'unknown error';
        throw new ReleaseError('RULES_SYNTAX', `${source.path}: yara-x refuses it: ${detail}`, {
          cause,
          evidence: { file: source.path, engine: 'yara-x', diagnostic: detail },
        });
      }
    }
    const warnings = [...compiler.warnings];
    let rules: Rules;
    try {
      rules = compiler.build();
    } catch (cause) {
      throw new ReleaseError('RULES_SYNTAX', 'yara-x could not build the rule set', { cause });
    }
    return { rules, warnings };
  } finally {
    compiler.free();
  }
}

const SCAN_TIMEOUT_MS = 10_000;

/** A scanner over compiled rules, reused across many inputs. */
export interface YaraXScanner {
  /** Names of the public rules that match `data`, sorted (private rules are left out, as the `yara` CLI does). */
  scan(data: Uint8Array): string[];
  free(): void;
}

/**
 * One scanner for many scans: creating a yara-x scanner costs time in
 * proportion to the rule count, so a build that tests 10,000 samples must
 * not create one per sample.
 */
export function openYaraXScanner(rules: Rules): YaraXScanner {
  const scanner = rules.scanner();
  scanner.setTimeoutMs(SCAN_TIMEOUT_MS);
  return {
    scan(data) {
      const result: unknown = scanner.scan(data);
      const matches = (result as { matches?: unknown }).matches;
      if (!Array.isArray(matches)) {
        throw new ReleaseError('RULES_ENGINE_FAILED', 'yara-x returned no match list');
      }
      return matches
        .filter((m: unknown) => (m as { isPrivate?: unknown }).isPrivate !== true)
        .map((m: unknown) => {
          const id = (m as { identifier?: unknown }).identifier;
          if (typeof id !== 'string') {
            throw new ReleaseError('RULES_ENGINE_FAILED', 'yara-x match without identifier');
          }
          return id;
        })
        .sort();
    },
    free() {
      scanner.free();
    },
  };
}

/** `openYaraXScanner(rules).scan(data)` for a single input. */
export function scanWithYaraX(rules: Rules, data: Uint8Array): string[] {
  const scanner = openYaraXScanner(rules);
  try {
    return scanner.scan(data);
  } finally {
    scanner.free();
  }
}

/** Where to find Debian's `yara` and `yarac` (names are looked up on `PATH`). */
export interface DebianYaraPaths {
  readonly yara: string;
  readonly yarac: string;
}

export const DEFAULT_DEBIAN_YARA: DebianYaraPaths = { yara: 'yara', yarac: 'yarac' };

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a program without a shell, in the C locale; resolves with its exit
 * code, rejects with `RULES_ENGINE_FAILED` when it cannot start or is killed.
 */
export function run(
  file: string,
  args: readonly string[],
  timeoutMs = 300_000,
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      {
        timeout: timeoutMs,
        maxBuffer: 256 * 1024 * 1024,
        env: { LC_ALL: 'C', PATH: process.env.PATH ?? '' },
      },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ code: 0, stdout, stderr });
          return;
        }
        if (typeof error.code === 'number') {
          resolve({ code: error.code, stdout, stderr });
          return;
        }
        reject(
          new ReleaseError('RULES_ENGINE_FAILED', `${file} could not run or was killed`, {
            cause: error,
            evidence: { program: file, errno: error.code, signal: error.signal },
          }),
        );
      },
    );
  });
}

/**
 * `yara --version` when Debian's engine is usable, `undefined` when `yara` or
 * `yarac` is not installed (the caller records that in the build result).
 */
export async function detectDebianYara(paths: DebianYaraPaths): Promise<string | undefined> {
  const version: string[] = [];
  for (const program of [paths.yara, paths.yarac]) {
    let result: ExecResult;
    try {
      result = await run(program, ['--version'], 10_000);
    } catch (cause) {
      if (cause instanceof ReleaseError && cause.evidence?.errno === 'ENOENT') return undefined;
      throw cause;
    }
    if (result.code !== 0) {
      throw new ReleaseError('RULES_ENGINE_FAILED', `${program} --version exited ${result.code}`, {
        evidence: { stderr: result.stderr },
      });
    }
    version.push(result.stdout.trim());
  }
  return version[0];
}
