/**
 * The residency monitor's alerts: what a failed tail step or a refused
 * entry means, in the vocabulary of `@glasshouse/witness` alerts, and the
 * identity of each piece of evidence (so it is reported once, across runs
 * and restarts).
 */
import { createHash } from 'node:crypto';
import { CodedError } from '@glasshouse/errors';
import type { Alert, AlertKind } from '@glasshouse/witness';

/** The alert kind of a tail step's failure (see `VerifiedTail`). */
const STEP_KINDS: Readonly<Record<string, AlertKind>> = {
  CHECKPOINT_INVALID: 'checkpoint-signature',
  CHECKPOINT_QUORUM_NOT_MET: 'quorum',
  LOG_INCONSISTENT: 'inconsistent-checkpoint',
  LOG_ROLLBACK: 'rollback',
  LOG_TILES_INVALID: 'tiles-mismatch',
  LOG_UNREACHABLE: 'fetch-failed',
};

export function stepAlert(
  log: string,
  origin: string | undefined,
  err: CodedError,
  time: Date,
): Alert {
  return {
    kind: STEP_KINDS[err.code] ?? 'fetch-failed',
    time: time.toISOString(),
    log,
    ...(origin === undefined ? {} : { origin }),
    message: err.message,
    code: err.code,
    evidence: { ...err.evidence },
  };
}

/** An entry the residency checks refused (a residency-log or an ingest-log entry). */
export function entryAlert(opts: {
  log: string;
  origin: string;
  index: bigint;
  data: Uint8Array;
  checkpoint: string;
  err: CodedError;
  message: string;
  time: Date;
  site?: string;
}): Alert {
  return {
    kind: 'entry-rejected',
    time: opts.time.toISOString(),
    log: opts.log,
    origin: opts.origin,
    message: `${opts.message}: ${opts.err.message}`,
    code: opts.err.code,
    evidence: {
      ...(opts.site === undefined ? {} : { site: opts.site }),
      index: opts.index.toString(),
      entry: new TextDecoder('utf-8', { fatal: false }).decode(opts.data),
      checkpoint: opts.checkpoint,
      error: { code: opts.err.code, ...opts.err.evidence },
    },
  };
}

/**
 * The identity of an alert's evidence: time and message left out, and the
 * checkpoint of a refused entry too (the same entry under a later
 * checkpoint is the same evidence).
 */
export function alertKey(a: Alert): string {
  const evidence: Record<string, unknown> = { ...a.evidence };
  if (a.kind === 'entry-rejected') delete evidence.checkpoint;
  return createHash('sha256')
    .update(a.kind)
    .update('\0')
    .update(a.origin ?? a.log)
    .update('\0')
    .update(JSON.stringify(evidence))
    .digest('hex');
}
