import { execFile } from 'node:child_process';
import { ReleaseError } from '../errors.js';

/**
 * Debian's `yara`/`yarac` 4.2.x: the optional cross-check of the rules
 * build, driven as a subprocess. (The engine the endpoint runs is YARA-X,
 * behind `@glasshouse/bundle`'s engine port.)
 */

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
 * code, rejects with `RULES_ENGINE_FAILED` when it cannot start or is killed,
 * `RULES_CANCELLED` when `signal` aborts it.
 */
export function run(
  file: string,
  args: readonly string[],
  timeoutMs = 300_000,
  signal?: AbortSignal,
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      {
        timeout: timeoutMs,
        maxBuffer: 256 * 1024 * 1024,
        env: { LC_ALL: 'C', PATH: process.env.PATH ?? '' },
        killSignal: 'SIGKILL',
        ...(signal === undefined ? {} : { signal }),
      },
      (error, stdout, stderr) => {
        if (signal?.aborted === true) {
          reject(
            new ReleaseError('RULES_CANCELLED', `${file} was stopped: the build was cancelled`),
          );
          return;
        }
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
