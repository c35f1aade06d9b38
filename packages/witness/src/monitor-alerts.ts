/** How the monitor builds, raises and recognises its alerts. */
import { createHash } from 'node:crypto';
import type { Alert, AlertKind } from './alerts.js';
import { WitnessError } from './errors.js';

/** Raised inside a run; ends it with an alert. */
export class AlertRaised extends Error {
  constructor(readonly alert: Alert) {
    super(alert.message);
  }
}

/** Builds the monitor's alerts: one log, one clock. */
export class AlertFactory {
  constructor(
    readonly log: string,
    readonly now: () => Date,
  ) {}

  make(
    kind: AlertKind,
    message: string,
    evidence: Record<string, unknown>,
    extra: { origin?: string | undefined; code?: string | undefined } = {},
  ): Alert {
    return {
      kind,
      time: this.now().toISOString(),
      log: this.log,
      ...(extra.origin === undefined ? {} : { origin: extra.origin }),
      message,
      ...(extra.code === undefined ? {} : { code: extra.code }),
      evidence,
    };
  }

  /**
   * What a failed fetch means: a malformed tile or bundle is evidence
   * (`tiles-mismatch`), anything else the log being unreadable
   * (`fetch-failed`). Errors that are not the fetcher's are bugs: rethrown.
   */
  fetchFailed(err: unknown, what: string, origin?: string): AlertRaised {
    if (!(err instanceof WitnessError)) throw err;
    const malformed = err.code === 'TILE_MALFORMED';
    return new AlertRaised(
      this.make(
        malformed ? 'tiles-mismatch' : 'fetch-failed',
        malformed
          ? `the log served a malformed ${what}: ${err.message}`
          : `cannot fetch the ${what}: ${err.message}`,
        { ...err.evidence },
        { origin, code: err.code },
      ),
    );
  }
}

/**
 * Alerts about what the log serves (`tiles-mismatch`, `entry-rejected`)
 * name the checkpoint they were found under only as context: the same bad
 * entry seen under a later checkpoint is the same evidence.
 */
const CONTEXT_ONLY_CHECKPOINT = new Set<AlertKind>(['tiles-mismatch', 'entry-rejected']);

/**
 * The identity of an alert's evidence (its time and message left out), so
 * that one piece of evidence is reported once, across runs and restarts.
 */
export function alertKey(a: Alert): string {
  const evidence: Record<string, unknown> = { ...a.evidence };
  // A summary of suppressed alerts is about its run: it keeps its checkpoint.
  if (CONTEXT_ONLY_CHECKPOINT.has(a.kind) && !('suppressed' in evidence))
    delete evidence.checkpoint;
  return createHash('sha256').update(a.kind).update(JSON.stringify(evidence)).digest('hex');
}
