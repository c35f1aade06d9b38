/**
 * The key release (issue 17 §4, supervisor side): holds the HPKE private
 * key agents seal batch data keys to, and opens them only for a request
 * that passes `checkRelease` — a witnessed access record whose scope covers
 * the batches — and was not released before. Each release is committed to
 * the audit store before any key is answered; each refusal is audited too.
 * Canary customers alert on any request; a break-glass release alerts at
 * once.
 *
 * Two phases (what the gateway uses): `prepare` runs every check but the
 * receipt's while the gateway still waits for the witnessed checkpoint,
 * opens the batch keys into this process's memory, writes the durable
 * `prepared` audit row (which also counts the record's one use) and answers
 * a single-use ticket; `releasePrepared` takes the ticket and the receipt,
 * verifies the receipt is of exactly the prepared record under the witness
 * policy, and only then answers the keys. So the audit fsync and the HPKE
 * work overlap the witness wait, and no key leaves without a receipt; keys
 * of a ticket that is refused, mismatched or lapses are zeroed. Tickets
 * live in this process only: a restarted key release refuses the tickets of
 * the one before (TICKET_UNKNOWN) and their rows stay `prepared` (keys may
 * have left, as far as the store can tell).
 */
import { randomBytes } from 'node:crypto';
import {
  accessRecordDigest,
  type AccessPolicy,
  type AccessRecord,
} from '@glasshouse/access-format';
import { openBatchKey } from '@glasshouse/residency';
import type { Policy } from '@glasshouse/tlog';
import type { AccessAlertSink } from '../alerts.js';
import { AccessError } from '../errors.js';
import type { RegisteredPrincipal } from '../principals.js';
import type { ResidencyFacts } from '../residency-facts.js';
import type { AuditEntry, ReleaseAuditStore } from './audit.js';
import {
  checkPrepare,
  checkRecordFresh,
  checkRelease,
  checkReleaseReceipt,
  DEFAULT_RECORD_VALIDITY_SECONDS,
  isRefusal,
  parseReleaseRecord,
  type CheckedPrepare,
  type PrepareRequest,
  type ReleaseContext,
  type ReleaseRequest,
} from './check.js';

/** How long a prepared release waits for its receipt (never past the record's validity). */
export const TICKET_TTL_SECONDS = 60;
/** Prepared releases open at once; more are refused (TOO_MANY_PREPARED) until some settle. */
export const MAX_PREPARED = 10_000;
/** Opened batch keys that prepared releases hold at once (a bound on memory); more are refused the same way. */
export const MAX_HELD_KEYS = 100_000;

export interface PreparedTicket {
  /** Single-use, 256 random bits (base64url). */
  readonly ticket: string;
  /** `sha256:<hex>` of the prepared record. */
  readonly record: string;
  /** RFC 3339: the ticket is refused after this. */
  readonly expires: string;
}

export interface ReleasePreparedRequest {
  readonly ticket: string;
  /** The digest of the record the ticket was prepared for (TICKET_MISMATCH otherwise). */
  readonly record: string;
  /** The record's c2sp.org/tlog-proof receipt. */
  readonly receipt: string;
}

interface Prepared {
  readonly rowId: number;
  readonly recordBytes: Uint8Array;
  readonly checked: CheckedPrepare;
  readonly expiresAt: number;
  /** Opened at prepare; they leave only with a verified receipt, and are zeroed otherwise. */
  readonly keys: { batch: string; key: Uint8Array }[];
}

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
  /** Open tickets, oldest first. */
  readonly #prepared = new Map<string, Prepared>();
  /** Keys the open tickets hold. */
  #heldKeys = 0;
  #sweptAt = 0;
  /** Sweeps again once the open tickets may have lapsed, requests or not: their keys must not linger. */
  #sweepTimer: NodeJS.Timeout | undefined;

  constructor(options: KeyReleaseOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** The single-call release (record, receipt and batches at once), audited before keys leave. */
  async release(req: ReleaseRequest): Promise<ReleasedKeys> {
    const now = this.#now();
    const time = new Date(now).toISOString();
    let record: AccessRecord | undefined;
    try {
      record = parseReleaseRecord(req.record);
      await this.#alertIfCanary(record, req.record, req.receipt, time);
      const checked = checkRelease(req, this.#context(now));
      const keys = await this.#openKeys(checked);
      // The replay guard and the audit in one durable row, before any key leaves.
      await this.#o.audit.recordRelease({
        ...auditOfUse(checked, time, checked.index),
        outcome: 'released',
      });
      await this.#alertIfBreakGlass(checked, req.record, req.receipt, checked.index, time);
      return {
        record: checked.digest,
        index: checked.index,
        breakGlass: checked.decision.breakGlass,
        keys,
      };
    } catch (err) {
      await this.#auditRefusal(err, time, req.record, record);
      throw err;
    }
  }

  /**
   * Phase one: every check but the receipt's, the batch keys opened (held
   * here; nothing leaves), then the durable `prepared` audit row
   * (RECORD_REPLAYED if the record was used).
   */
  async prepare(req: PrepareRequest): Promise<PreparedTicket> {
    const now = this.#now();
    const time = new Date(now).toISOString();
    this.#sweep(now);
    let record: AccessRecord | undefined;
    try {
      record = parseReleaseRecord(req.record);
      await this.#alertIfCanary(record, req.record, null, time);
      const ctx = this.#context(now);
      const checked = checkPrepare(req, ctx);
      if (
        this.#prepared.size >= MAX_PREPARED ||
        this.#heldKeys + checked.batches.length > MAX_HELD_KEYS
      ) {
        throw new AccessError('TOO_MANY_PREPARED', 'too many prepared releases wait for receipts');
      }
      const keys = await this.#openKeys(checked);
      let rowId: number;
      try {
        rowId = await this.#o.audit.recordPrepared(auditOfUse(checked, time, null));
      } catch (err) {
        wipe(keys);
        throw err;
      }
      const expiresAt = Math.min(
        now + TICKET_TTL_SECONDS * 1000,
        Date.parse(record.time) + ctx.validitySeconds * 1000,
      );
      const ticket = randomBytes(32).toString('base64url');
      this.#prepared.set(ticket, { rowId, recordBytes: req.record, checked, expiresAt, keys });
      this.#heldKeys += keys.length;
      this.#armSweep();
      return { ticket, record: checked.digest, expires: new Date(expiresAt).toISOString() };
    } catch (err) {
      await this.#auditRefusal(err, time, req.record, record);
      throw err;
    }
  }

  /**
   * Phase two: the ticket (used up by this call, whatever its outcome) and
   * the receipt, verified against the witness policy for exactly the
   * prepared bytes before any key opens. The row becomes `released` after
   * the keys are answered, without holding them up (it is durable as
   * `prepared` already).
   */
  async releasePrepared(req: ReleasePreparedRequest): Promise<ReleasedKeys> {
    const now = this.#now();
    const time = new Date(now).toISOString();
    this.#sweep(now);
    const p = this.#takeTicket(req, now);
    if (p instanceof AccessError) {
      await this.#auditRefusal(p, time, null, undefined, req.record);
      throw p;
    }
    const { checked, keys } = p;
    try {
      const ctx = this.#context(now);
      const index = checkReleaseReceipt(p.recordBytes, checked.digest, req.receipt, ctx);
      checkRecordFresh(checked.record, ctx);
      await this.#alertIfBreakGlass(checked, p.recordBytes, req.receipt, index, time);
      // The answer does not wait for this update: the `prepared` row is the durable audit.
      this.#o.audit.settleReleasedLater(p.rowId, index);
      return { record: checked.digest, index, breakGlass: checked.decision.breakGlass, keys };
    } catch (err) {
      wipe(keys); // opened but not answered
      if (isRefusal(err)) {
        // No key left: the row says why rather than "may have left".
        await this.#o.audit.settlePrepared(p.rowId, err.code, null).catch(() => undefined);
      }
      throw err;
    }
  }

  /** The open ticket (removed: single use), or the coded refusal. */
  #takeTicket(req: ReleasePreparedRequest, now: number): Prepared | AccessError {
    const p = this.#prepared.get(req.ticket);
    if (p === undefined || p.expiresAt < now) {
      return new AccessError('TICKET_UNKNOWN', 'no open prepared release has this ticket', {
        evidence: { record: req.record },
      });
    }
    this.#prepared.delete(req.ticket);
    this.#heldKeys -= p.keys.length;
    if (p.checked.digest !== req.record) {
      wipe(p.keys);
      void this.#o.audit.settlePrepared(p.rowId, 'TICKET_MISMATCH', null).catch(() => undefined);
      return new AccessError('TICKET_MISMATCH', 'the ticket was prepared for another record', {
        evidence: { record: req.record, prepared: p.checked.digest },
      });
    }
    return p;
  }

  /**
   * Drops tickets past their time (at most once a second) and settles their
   * rows `expired`: this process holds every ticket it gave, so none of
   * them released a key.
   */
  #sweep(now: number): void {
    if (now - this.#sweptAt < 1000) return;
    this.#sweptAt = now;
    for (const [ticket, p] of this.#prepared) {
      if (p.expiresAt >= now) continue;
      this.#prepared.delete(ticket);
      this.#heldKeys -= p.keys.length;
      wipe(p.keys);
      this.#o.audit.settlePrepared(p.rowId, 'expired', null).catch(() => undefined);
    }
  }

  /** A sweep one ticket lifetime from now while tickets are open (unref: it keeps no process alive). */
  #armSweep(): void {
    if (this.#sweepTimer !== undefined || this.#prepared.size === 0) return;
    this.#sweepTimer = setTimeout(
      () => {
        this.#sweepTimer = undefined;
        this.#sweptAt = 0;
        this.#sweep(this.#now());
        this.#armSweep();
      },
      (TICKET_TTL_SECONDS + 1) * 1000,
    );
    this.#sweepTimer.unref();
  }

  #context(now: number): ReleaseContext {
    return {
      accessLogPolicy: this.#o.accessLogPolicy,
      accessPolicy: this.#o.accessPolicy,
      principals: this.#o.principals,
      customerKey: (c) => this.#o.residency.customerKey(c),
      siteOfRegion: (r) => this.#o.residency.siteOfRegion(r),
      validitySeconds: this.#o.validitySeconds ?? DEFAULT_RECORD_VALIDITY_SECONDS,
      now,
    };
  }

  async #openKeys(checked: CheckedPrepare): Promise<{ batch: string; key: Uint8Array }[]> {
    const keys: { batch: string; key: Uint8Array }[] = [];
    for (const { digest, batch } of checked.batches) {
      try {
        keys.push({ batch: digest, key: await openBatchKey(batch, this.#o.privateKey) });
      } catch (cause) {
        wipe(keys);
        throw new AccessError('SEALED_KEY_OPEN_FAILED', 'a batch key does not open here', {
          cause,
          evidence: { batch: digest, code: (cause as { code?: unknown }).code ?? null },
        });
      }
    }
    return keys;
  }

  /** Issue 17 §7: a canary customer's data has no reason to be touched; any request alerts. */
  async #alertIfCanary(
    record: AccessRecord,
    bytes: Uint8Array,
    receipt: string | null,
    time: string,
  ): Promise<void> {
    if (this.#o.canaries?.has(record.customer) !== true) return;
    await this.#o.alerts.send({
      kind: 'canary-access',
      time,
      log: this.#o.accessLogName,
      message: `key-release request for canary customer ${record.customer}`,
      evidence: {
        record: new TextDecoder().decode(bytes),
        receipt,
        customer: record.customer,
        principal: record.accessor.principal,
      },
    });
  }

  /** Issue 17 §5: break-glass alerts the supervisor at once; a review is due (access monitor). */
  async #alertIfBreakGlass(
    checked: CheckedPrepare,
    bytes: Uint8Array,
    receipt: string,
    index: bigint,
    time: string,
  ): Promise<void> {
    if (!checked.decision.breakGlass) return;
    await this.#o.alerts.send({
      kind: 'break-glass',
      time,
      log: this.#o.accessLogName,
      message: `break-glass access to ${checked.record.customer} by ${checked.record.accessor.principal}`,
      code: 'BREAK_GLASS',
      evidence: {
        record: new TextDecoder().decode(bytes),
        receipt,
        index: index.toString(),
        batches: checked.batches.map((b) => b.digest),
      },
    });
  }

  /** A refusal gets its audit row; the refusal stands even if the row cannot be written. */
  async #auditRefusal(
    err: unknown,
    time: string,
    bytes: Uint8Array | null,
    record: AccessRecord | undefined,
    digest?: string,
  ): Promise<void> {
    if (!isRefusal(err)) return;
    await this.#o.audit
      .recordRefusal({
        time,
        outcome: err.code,
        record:
          record !== undefined && bytes !== null ? accessRecordDigest(bytes) : (digest ?? null),
        logIndex: null,
        customer: record?.customer ?? null,
        principal: record?.accessor.principal ?? null,
        justification: record?.justification.code ?? null,
        batches: [],
      })
      .catch(() => undefined);
  }
}

/** Zeroes opened data keys that are not (or no longer) to leave. */
function wipe(keys: readonly { readonly key: Uint8Array }[]): void {
  for (const k of keys) k.key.fill(0);
}

/** The audit row of a checked record's one use (a release, or a prepared one). */
function auditOfUse(
  checked: CheckedPrepare,
  time: string,
  logIndex: bigint | null,
): Omit<AuditEntry, 'outcome'> {
  return {
    time,
    record: checked.digest,
    logIndex,
    customer: checked.record.customer,
    principal: checked.record.accessor.principal,
    justification: checked.record.justification.code,
    batches: checked.batches.map((b) => b.digest),
  };
}
