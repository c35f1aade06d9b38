import { spawn } from 'node:child_process';
import { childModuleArgs } from '@glasshouse/bundle';
import { ReleaseError, type ReleaseErrorCode } from '../../errors.js';
import type { RulesBuildOptions, RulesBuildResult, RulesJobOptions } from './types.js';

/**
 * A rules build is seconds to minutes of CPU and I/O over thousands of
 * files (reading, hashing, compiling, testing, packaging). It runs in a
 * process of its own so that every service sharing this process's event
 * loop keeps answering; only its progress lines and its result (the bundle
 * bytes in one message) come back. Cancelling kills that process's whole
 * group at once: the build, its YARA-X engine process and Debian's `yara`.
 */

/** Parent → build process: one request. */
export interface JobRequest {
  readonly options: RulesJobOptions;
}

/** Build process → parent. */
export type JobAnswer =
  | { readonly type: 'progress'; readonly message: string }
  | { readonly type: 'done'; readonly result: RulesBuildResult }
  | {
      readonly type: 'error';
      readonly code: string | undefined;
      readonly message: string;
      readonly evidence: Record<string, unknown> | undefined;
    };

const MAX_STDERR = 64 * 1024;

/**
 * Builds a rules bundle from a `rules` recipe in a build process (see
 * `runRulesPipeline` for the steps). Any failure rejects with a
 * `ReleaseError` naming the rule and/or file; aborting `signal` rejects
 * with `RULES_CANCELLED` at once.
 */
export function buildRulesBundle(options: RulesBuildOptions): Promise<RulesBuildResult> {
  const { onProgress, signal, ...request } = options;
  if (signal?.aborted === true) {
    return Promise.reject(new ReleaseError('RULES_CANCELLED', 'the rules build was cancelled'));
  }
  return new Promise<RulesBuildResult>((resolve, reject) => {
    const child = spawn(process.execPath, [...childModuleArgs(import.meta.url, 'child')], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
      // Its own process group, so one kill stops the build and everything it started.
      detached: true,
    });
    let settled = false;
    let stderr = '';
    const stopGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch (cause) {
        // ESRCH: the group has ended already.
        if ((cause as NodeJS.ErrnoException).code !== 'ESRCH') throw cause;
      }
    };
    const finish = (err: ReleaseError | undefined, result?: RulesBuildResult): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      stopGroup();
      if (err !== undefined) reject(err);
      else if (result !== undefined) resolve(result);
    };
    const onAbort = (): void => {
      finish(new ReleaseError('RULES_CANCELLED', 'the rules build was cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderr.length < MAX_STDERR) stderr += chunk.slice(0, MAX_STDERR - stderr.length);
    });
    child.on('message', (raw) => {
      const message = raw as JobAnswer;
      switch (message.type) {
        case 'progress':
          if (!settled) onProgress?.(message.message);
          return;
        case 'done':
          finish(undefined, message.result);
          return;
        case 'error':
          finish(
            new ReleaseError(
              (message.code ?? 'RULES_ENGINE_FAILED') as ReleaseErrorCode,
              message.message,
              { evidence: { ...message.evidence, inBuildProcess: true } },
            ),
          );
          return;
      }
    });
    child.on('error', (cause) => {
      finish(
        new ReleaseError('RULES_ENGINE_FAILED', 'cannot run the rules build process', { cause }),
      );
    });
    child.on('exit', (code, exitSignal) => {
      finish(
        new ReleaseError('RULES_ENGINE_FAILED', 'the rules build process ended', {
          evidence: { code, signal: exitSignal, stderr },
        }),
      );
    });
    const job: JobRequest = { options: request };
    child.send(job, (err) => {
      if (err !== null) {
        finish(
          new ReleaseError('RULES_ENGINE_FAILED', 'cannot reach the rules build process', {
            cause: err,
          }),
        );
      }
    });
  });
}
