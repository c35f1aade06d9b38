import { spawn } from 'node:child_process';
import { deserialize } from 'node:v8';
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

/**
 * Build process → parent. The result (with its bundle of tens of megabytes
 * and maps of ten thousand entries) travels as `result` pieces, then
 * `done`: Node decodes one large IPC message in one go on the receiving
 * event loop and copies it once per arriving chunk, so a 20 MB answer held
 * the services of the parent process for most of a second. The parent
 * copies each piece into place as it arrives and decodes the whole once.
 */
export type JobAnswer =
  | { readonly type: 'progress'; readonly message: string }
  | {
      readonly type: 'result';
      readonly at: number;
      readonly total: number;
      readonly piece: Uint8Array;
    }
  | { readonly type: 'done'; readonly total: number }
  | {
      readonly type: 'error';
      readonly code: string | undefined;
      readonly message: string;
      readonly evidence: Record<string, unknown> | undefined;
    };

/** The result's pieces on the way back (see `JobAnswer`): a chunk or two of the IPC pipe. */
export const RESULT_PIECE_BYTES = 128 * 1024;
/** Refuses a result larger than this (the bundle's own limits are far below). */
const MAX_RESULT_BYTES = 2 * 1024 * 1024 * 1024;

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
    let result: Buffer | undefined;
    let received = 0;
    child.on('message', (raw) => {
      const message = raw as JobAnswer;
      switch (message.type) {
        case 'progress':
          if (!settled) onProgress?.(message.message);
          return;
        case 'result': {
          const { at, total, piece } = message;
          if (result === undefined && Number.isSafeInteger(total) && total <= MAX_RESULT_BYTES) {
            result = Buffer.allocUnsafe(total);
          }
          if (result?.length !== total || at !== received || at + piece.byteLength > total) {
            finish(new ReleaseError('RULES_ENGINE_FAILED', 'the build result came back garbled'));
            return;
          }
          result.set(piece, at);
          received += piece.byteLength;
          return;
        }
        case 'done': {
          if (result === undefined || received !== message.total || result.length !== received) {
            finish(
              new ReleaseError('RULES_ENGINE_FAILED', 'the build result came back incomplete', {
                evidence: { expected: message.total, received },
              }),
            );
            return;
          }
          finish(undefined, deserialize(result) as RulesBuildResult);
          return;
        }
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
