/**
 * The key release (issue 17 §4, supervisor side): holds the HPKE private
 * key agents seal batch data keys to, and opens them only for a request
 * that passes `checkRelease` — a witnessed access record whose scope covers
 * the batches — and was not released before. Each release is committed to
 * the audit store before any key is answered; each refusal is audited too.
 * Canary customers alert on any request; a break-glass release alerts at
 * once.
 */
import { accessRecordDigest, type AccessPolicy } from '@glasshouse/access-format';
import { openBatchKey } from '@glasshouse/residency';
import type { Policy } from '@glasshouse/tlog';
import type { AccessAlertSink } from '../alerts.js';
import { AccessError } from '../errors.js';
import type { RegisteredPrincipal } from '../principals.js';
import type { ResidencyFacts } from '../residency-facts.js';
import type { ReleaseAuditStore } from './audit.js';
import {
  checkRelease,
  DEFAULT_RECORD_VALIDITY_SECONDS,
  isRefusal,
  parseReleaseRecord,
  type ReleaseRequest,
} from './check.js';

export interface KeyReleaseOptions {
  /** The raw X25519 key-release private key (RFC 7748). */
  readonly privateKey: Uint8Array;
  /** The access log's c2sp.org/tlog-policy (log key, witnesses, quorum). */
  readonly accessLogPolicy: Policy;
  readonly accessPolicy: AccessPolicy;
  readonly principals: ReadonlyMap<string, RegisteredPrincipal>;
  readonly residency: ResidencyFacts;
  readonly audit: ReleaseAuditStore;
  readonly alerts: AccessAlertSink;
  /** Canary customers (pseudonyms): any request for one alerts. */
  readonly canaries?: ReadonlySet<string>;
  /** How the alerts name the access log (its URL or origin). */
  readonly accessLogName: string;
  readonly validitySeconds?: number;
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: () => number;
}

export interface ReleasedKeys {
  readonly record: string;
  readonly index: bigint;
  readonly breakGlass: boolean;
  readonly keys: readonly { readonly batch: string; readonly key: Uint8Array }[];
}

export class KeyRelease {
  readonly #o: KeyReleaseOptions;
  readonly #now: () => number;

  constructor(options: KeyReleaseOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  async release(req: ReleaseRequest): Promise<ReleasedKeys> {
    const now = this.#now();
    const time = new Date(now).toISOString();
    let record: ReturnType<typeof parseReleaseRecord> | undefined;
    try {
      record = parseReleaseRecord(req.record);
      if (this.#o.canaries?.has(record.customer) === true) {
        // Issue 17 §7: a canary customer's data has no reason to be touched; any request alerts.
        await this.#o.alerts.send({
          kind: 'canary-access',
          time,
          log: this.#o.accessLogName,
          message: `key-release request for canary customer ${record.customer}`,
          evidence: {
            record: new TextDecoder().decode(req.record),
            receipt: req.receipt,
            customer: record.customer,
            principal: record.accessor.principal,
          },
        });
      }
      const checked = checkRelease(req, {
        accessLogPolicy: this.#o.accessLogPolicy,
        accessPolicy: this.#o.accessPolicy,
        principals: this.#o.principals,
        customerKey: (c) => this.#o.residency.customerKey(c),
        siteOfRegion: (r) => this.#o.residency.siteOfRegion(r),
        validitySeconds: this.#o.validitySeconds ?? DEFAULT_RECORD_VALIDITY_SECONDS,
        now,
      });
      const keys: { batch: string; key: Uint8Array }[] = [];
      for (const { digest, batch } of checked.batches) {
        try {
          keys.push({ batch: digest, key: await openBatchKey(batch, this.#o.privateKey) });
        } catch (cause) {
          throw new AccessError('SEALED_KEY_OPEN_FAILED', 'a batch key does not open here', {
            cause,
            evidence: { batch: digest, code: (cause as { code?: unknown }).code ?? null },
          });
        }
      }
      // The replay guard and the audit in one durable row, before any key leaves.
      await this.#o.audit.recordRelease({
        time,
        outcome: 'released',
        record: checked.digest,
        logIndex: checked.index,
        customer: record.customer,
        principal: record.accessor.principal,
        justification: record.justification.code,
        batches: checked.batches.map((b) => b.digest),
      });
      if (checked.decision.breakGlass) {
        // Issue 17 §5: break-glass alerts the supervisor at once; a review is due (access monitor).
        await this.#o.alerts.send({
          kind: 'break-glass',
          time,
          log: this.#o.accessLogName,
          message: `break-glass access to ${record.customer} by ${record.accessor.principal}`,
          code: 'BREAK_GLASS',
          evidence: {
            record: new TextDecoder().decode(req.record),
            receipt: req.receipt,
            index: checked.index.toString(),
            batches: checked.batches.map((b) => b.digest),
          },
        });
      }
      return {
        record: checked.digest,
        index: checked.index,
        breakGlass: checked.decision.breakGlass,
        keys,
      };
    } catch (err) {
      if (isRefusal(err)) {
        await this.#o.audit
          .recordRefusal({
            time,
            outcome: err.code,
            record: record === undefined ? null : accessRecordDigest(req.record),
            logIndex: null,
            customer: record?.customer ?? null,
            principal: record?.accessor.principal ?? null,
            justification: record?.justification.code ?? null,
            batches: [],
          })
          .catch(() => undefined); // the refusal stands even if its audit row cannot be written
      }
      throw err;
    }
  }
}
