/**
 * Alerts of the access half (issue 17 §5, §7): one small module the key
 * release and the access monitor share. Alerts go to the same kind of sink
 * as the other monitors' (`@glasshouse/witness`'s JSON-lines file, one alert
 * per line, fsync'd before `send` resolves), and each piece of evidence has
 * an identity (`accessAlertKey`) so a monitor sends it once, across restarts.
 */
import { createHash } from 'node:crypto';
import { type Alert, JsonLinesAlertSink } from '@glasshouse/witness';

export type AccessAlertKind =
  /** A break-glass access: no approval, the supervisor and the customer are told at once. */
  | 'break-glass'
  /** A break-glass access without a valid supervisor review by its deadline. */
  | 'break-glass-unreviewed'
  /** A key-release request or an access record for a canary customer. */
  | 'canary-access'
  /** A record that fails the access policy: approval missing, invalid, expired or denied; justification not allowed. */
  | 'access-not-allowed'
  /** A customer's access counter does not continue its last one (a record left out, repeated or reordered). */
  | 'counter-gap'
  /** An access-log entry that is not a well-formed access record. */
  | 'record-invalid'
  /** An output-log entry whose roots differ from the monitor's rebuild of the index, or that does not parse. */
  | 'index-mismatch'
  /** Two output-log entries with different roots at one access-log size. */
  | 'index-fork'
  /** The access log or the output log fails verification (quorum, signature, consistency, tiles). */
  | 'log-invalid';

export interface AccessAlert {
  readonly kind: AccessAlertKind;
  /** RFC 3339 time it was raised. */
  readonly time: string;
  /** The log's prefix URL (access log or output log) or the service's. */
  readonly log: string;
  /** The customer concerned, when one is. */
  readonly customer?: string;
  readonly message: string;
  readonly code?: string;
  readonly evidence: Readonly<Record<string, unknown>>;
}

/** Where access alerts go. `send` MUST resolve only once the alert is durably delivered. */
export interface AccessAlertSink {
  send(alert: AccessAlert): Promise<void>;
}

/** Appends each alert as one JSON line to `path` (e.g. the supervisor's `alerts.jsonl`). */
export function jsonLinesAccessAlerts(path: string): AccessAlertSink {
  const sink = new JsonLinesAlertSink(path);
  // Same line format as every other monitor's alert; the kind is the access half's own.
  return { send: (alert) => sink.send(alert as unknown as Alert) };
}

/** Keeps alerts in memory (tests, status pages). */
export class MemoryAccessAlerts implements AccessAlertSink {
  readonly alerts: AccessAlert[] = [];
  send(alert: AccessAlert): Promise<void> {
    this.alerts.push(alert);
    return Promise.resolve();
  }
}

/**
 * The identity of an alert's evidence: kind, log and evidence (time,
 * message and the checkpoint it was read under left out), so the same evidence found again — in a later pass or
 * after a restart — is the same alert.
 */
export function accessAlertKey(a: AccessAlert): string {
  // The checkpoint an entry was read under changes from pass to pass: not part of the evidence's identity.
  const evidence: Record<string, unknown> = { ...a.evidence };
  delete evidence.checkpoint;
  delete evidence.accessLogCheckpoint;
  return createHash('sha256')
    .update(a.kind)
    .update('\0')
    .update(a.log)
    .update('\0')
    .update(JSON.stringify(evidence))
    .digest('hex');
}
