import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { WitnessError } from './errors.js';

/** What went wrong; each kind documents the evidence it carries (see the README). */
export type AlertKind =
  /** The checkpoint does not parse or is not validly signed by the log. */
  | 'checkpoint-signature'
  /** Validly signed by the log, but the witness cosignatures do not meet the policy's quorum. */
  | 'quorum'
  /** A larger checkpoint whose consistency proof from the previous one does not verify. */
  | 'inconsistent-checkpoint'
  /** Two signed checkpoints of the same size with different roots. */
  | 'split-view'
  /** A signed checkpoint smaller than one verified earlier. */
  | 'rollback'
  /** Served tiles or bundles disagree with the entries or with earlier verified data. */
  | 'tiles-mismatch'
  /** The root recomputed from the entries is not the checkpoint's root. */
  | 'root-mismatch'
  /** The entry checker refused an entry. */
  | 'entry-rejected'
  /** The log could not be read (after retries; see the README for when this alerts). */
  | 'fetch-failed'
  /** Verified data differs from what the mirror already holds. */
  | 'mirror-conflict'
  /** An update repository serves metadata or a target its supervisor did not sign or approve (raised by `@glasshouse/distribution`'s repository monitor; `log` is the repository's URL). */
  | 'repository-unsupervised';

/**
 * One alert, JSON-safe: sizes and indices are decimal strings, hashes and
 * entries base64, checkpoints their note text.
 */
export interface Alert {
  readonly kind: AlertKind;
  /** RFC 3339 time the monitor raised it. */
  readonly time: string;
  /** The log's prefix URL. */
  readonly log: string;
  /** The log's origin, when known. */
  readonly origin?: string;
  readonly message: string;
  /** The coded error behind it, if any. */
  readonly code?: string;
  readonly evidence: Readonly<Record<string, unknown>>;
}

/**
 * Where alerts go. `send` MUST resolve only once the alert is delivered as
 * durably as the sink can (a file: fsync'd); it rejects when the alert could
 * not be recorded at all.
 */
export interface AlertSink {
  send(alert: Alert): Promise<void>;
  close?(): Promise<void>;
}

/** The alert as one JSON line (keys in a stable order). */
export function formatAlertLine(alert: Alert): string {
  return `${JSON.stringify(alert)}\n`;
}

/** Appends each alert as one JSON line to `path` and fsyncs it before resolving. */
export class JsonLinesAlertSink implements AlertSink {
  readonly path: string;
  // One write at a time, so lines never interleave.
  #tail: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  send(alert: Alert): Promise<void> {
    const line = formatAlertLine(alert);
    const next = this.#tail.then(() => this.#append(line));
    // The queue goes on after a failure; the failure goes to this caller.
    this.#tail = next.catch(() => undefined);
    return next;
  }

  async #append(line: string): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true });
      const handle = await open(this.path, 'a', 0o644);
      try {
        await handle.writeFile(line);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (cause) {
      throw new WitnessError('ALERT_DELIVERY_FAILED', `cannot append to ${this.path}`, {
        cause,
        evidence: { path: this.path },
      });
    }
  }

  close(): Promise<void> {
    return this.#tail;
  }
}

export interface WebhookAlertSinkOptions {
  readonly url: string;
  /** Default 5 s per POST. */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  /** Told about every failed delivery; a failed webhook never fails the monitor. */
  readonly onError?: (err: WitnessError, alert: Alert) => void;
}

/**
 * POSTs each alert as `application/json` to a URL. Delivery failures (an
 * unreachable hook, a non-2xx answer, a timeout) are reported through
 * `onError` and otherwise swallowed: the JSON-lines file is the record, the
 * hook only a notification.
 */
export class WebhookAlertSink implements AlertSink {
  readonly #opts: WebhookAlertSinkOptions;
  readonly #fetch: typeof fetch;

  constructor(opts: WebhookAlertSinkOptions) {
    this.#opts = opts;
    this.#fetch = opts.fetch ?? fetch;
  }

  async send(alert: Alert): Promise<void> {
    const { url } = this.#opts;
    try {
      const res = await this.#fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alert),
        signal: AbortSignal.timeout(this.#opts.timeoutMs ?? 5_000),
        redirect: 'error',
      });
      await res.body?.cancel();
      if (res.status < 200 || res.status > 299) {
        this.#report(
          new WitnessError('ALERT_DELIVERY_FAILED', `webhook answered HTTP ${res.status}`, {
            evidence: { url, status: res.status, kind: alert.kind },
          }),
          alert,
        );
      }
    } catch (cause) {
      this.#report(
        new WitnessError('ALERT_DELIVERY_FAILED', 'webhook unreachable', {
          cause,
          evidence: { url, kind: alert.kind },
        }),
        alert,
      );
    }
  }

  #report(err: WitnessError, alert: Alert): void {
    this.#opts.onError?.(err, alert);
  }
}

/** Sends every alert to every sink; rejects (after all were tried) if any sink rejected. */
export function fanOutAlertSink(sinks: readonly AlertSink[]): AlertSink {
  return {
    async send(alert) {
      const results = await Promise.allSettled(sinks.map((s) => s.send(alert)));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    },
    async close() {
      await Promise.all(
        sinks.map(async (s) => {
          await s.close?.();
        }),
      );
    },
  };
}

/** An in-memory sink: keeps what it is sent. */
export class MemoryAlertSink implements AlertSink {
  readonly alerts: Alert[] = [];

  send(alert: Alert): Promise<void> {
    this.alerts.push(alert);
    return Promise.resolve();
  }
}

/**
 * A witness's refusal as an alert: a checkpoint of the size it already
 * cosigned with another root, validly signed by the log (the witness checks
 * the log's signature first), is a split view (c2sp.org/tlog-witness: 409
 * on a root mismatch). The evidence carries both signed notes, in the
 * monitor's `split-view` vocabulary, so anyone can check both signatures
 * and the conflict. Other refusals (a bad proof, an unknown log, an
 * unsigned checkpoint) prove nothing against the log: undefined.
 */
export function witnessRefusalAlert(
  result: { readonly code: string; readonly evidence?: Readonly<Record<string, unknown>> },
  witness: string,
  now: Date,
): Alert | undefined {
  const e = result.evidence;
  if (result.code !== 'ROOT_MISMATCH' || e === undefined || typeof e.submitted !== 'string') {
    return undefined;
  }
  const origin = e.submitted.slice(0, e.submitted.indexOf('\n'));
  return {
    kind: 'split-view',
    time: now.toISOString(),
    log: origin,
    origin,
    message: `the log asked witness ${witness} to cosign a second tree of size ${String(e.size)}`,
    code: 'ROOT_MISMATCH',
    evidence: {
      witness,
      previous: e.cosigned,
      checkpoint: e.submitted,
      size: e.size,
      previousRoot: e.cosignedRoot,
      root: e.submittedRoot,
    },
  };
}
