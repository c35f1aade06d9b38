import { CodedError } from '@glasshouse/errors';
import { serialize } from 'node:v8';
import { RESULT_PIECE_BYTES, type JobAnswer, type JobRequest } from './job.js';
import { runRulesPipeline } from './pipeline.js';

/**
 * The build process of `buildRulesBundle`: runs one rules build
 * (`runRulesPipeline`) and streams its progress lines to the parent. It is
 * the leader of its own process group, so the parent stops it, its engine
 * process and Debian's `yara` with one signal; if the parent goes away it
 * stops the group itself.
 */

function answer(message: JobAnswer): void {
  process.send?.(message);
}

function fail(err: unknown, withEvidence: boolean): JobAnswer {
  const coded = err instanceof CodedError;
  return {
    type: 'error',
    code: coded ? (err.code as string) : undefined,
    message: err instanceof Error ? err.message : String(err),
    evidence: withEvidence && coded && err.evidence !== undefined ? { ...err.evidence } : undefined,
  };
}

process.once('message', (request: JobRequest) => {
  runRulesPipeline(request.options, (message) => {
    answer({ type: 'progress', message });
  }).then(
    (result) => {
      // In pieces, so the parent's event loop never decodes one large message (see JobAnswer).
      const bytes = serialize(result);
      const total = bytes.byteLength;
      for (let at = 0; at < total; at += RESULT_PIECE_BYTES) {
        answer({ type: 'result', at, total, piece: bytes.subarray(at, at + RESULT_PIECE_BYTES) });
      }
      answer({ type: 'done', total });
    },
    (err: unknown) => {
      try {
        answer(fail(err, true));
      } catch {
        // Evidence that does not serialize: the code and message still go.
        answer(fail(err, false));
      }
    },
  );
});

process.once('disconnect', () => {
  // The parent is gone: stop the whole group (engine process, yara) with this process.
  try {
    process.kill(-process.pid, 'SIGKILL');
  } finally {
    process.exit(1);
  }
});
