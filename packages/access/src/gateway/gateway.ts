/**
 * The gateway (issue 17 §3, vendor side): the only read path to data
 * stored at the sites. For an authenticated principal's ask it checks the
 * access policy, writes the access record (next customer counter) to its
 * store and to the access log, waits for a checkpoint meeting the access
 * log's witness policy and verifies the receipt itself, reads the sealed
 * batches from the site, has the key release prepare (during the witness
 * wait) and then open their data keys against the record and its receipt, decrypts, and answers the data with the
 * receipt. If the log, the witnesses, the site or the key release fail, it
 * serves nothing (503 with a code).
 *
 * Counters: a per-customer lock covers "store the record with the next
 * counter → sequence it in the access log", so counters run in log order;
 * a record left unlogged (log down, kill -9) is appended again (log dedup)
 * before the customer's next record, and at start.
 */
import {
  ACCESS_RECORD_SCHEMA,
  accessRecordDigest,
  checkAccess,
  encodeAccessRecord,
  type AccessPolicy,
  type AccessRecord,
  type AccessScope,
  type Justification,
} from '@glasshouse/access-format';
import { LogError, type LogClient } from '@glasshouse/log';
import {
  batchDigest,
  openAllPersonal,
  parseBatch,
  type PersonalFields,
  type TelemetryBatch,
} from '@glasshouse/residency';
import { TlogError, type Policy, verifyTlogProof } from '@glasshouse/tlog';
import type { Approvals } from '../approvals/service.js';
import { AccessError } from '../errors.js';
import type { RegisteredPrincipal } from '../principals.js';
import type { ResidencyFacts } from '../residency-facts.js';
import type { LoggedMark, RecordStore } from './records.js';
import type { KeyReleaseClient, KeyReleaseTicket, SiteReader } from './remotes.js';
import { type AccessTiming, PhaseClock } from './timing.js';

export interface AccessAsk {
  readonly site: string;
  readonly customer: string;
  readonly dataClass: string;
  readonly scope: AccessScope;
  readonly justification?: Justification | undefined;
  /** The digest of the approved request, when the class needs approval. */
  readonly approval?: string | null | undefined;
}

export interface ServedEvent {
  readonly sha256: string;
  readonly rule: string | null;
  readonly verdict: string;
  readonly timeBucket: string;
  readonly personal: PersonalFields;
}

export interface ServedBatch {
  readonly digest: string;
  readonly batchId: string;
  readonly region: string;
  readonly productVersion: string;
  readonly createdAt: string;
  readonly events: readonly ServedEvent[];
}

export interface AccessAnswer {
  /** The access record: exact access-log entry bytes. */
  readonly record: Uint8Array;
  readonly digest: string;
  readonly index: bigint;
  /** c2sp.org/tlog-proof of the record under a checkpoint meeting the witness policy. */
  readonly receipt: string;
  readonly breakGlass: boolean;
  readonly batches: readonly ServedBatch[];
  /** Digests the record names that the site does not hold (or no longer holds). */
  readonly missing: readonly string[];
  /** The site had more batches in the time range than one answer carries. */
  readonly truncated: boolean;
  /** Where the access's time went (the answer's `Server-Timing`). */
  readonly timing: AccessTiming;
}

export interface GatewayOptions {
  readonly records: RecordStore;
  readonly approvals: Approvals;
  readonly accessPolicy: AccessPolicy;
  readonly residency: ResidencyFacts;
  /** The access log's write client (signed with the gateway's key) and its tlog-policy. */
  readonly accessLog: LogClient;
  readonly accessLogPolicy: Policy;
  /** The data sites by id (a Map, or a lookup that follows the logged residency policy). */
  readonly sites: Pick<ReadonlyMap<string, SiteReader>, 'get'>;
  readonly keyRelease: KeyReleaseClient;
  /** How long to wait for a witnessed checkpoint covering a record (default 10 s). */
  readonly witnessTimeoutMs?: number;
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: () => number;
}

export class Gateway {
  readonly #o: GatewayOptions;
  readonly #now: () => number;
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Accesses waiting for a customer's lock. */
  readonly #queued = new Map<string, number>();
  /**
   * Each customer's last stored counter once read: this gateway is the store's only writer
   * (its lock), so the next counter needs no query.
   */
  readonly #counters = new Map<string, number>();
  /** Customers with a stored record not yet known to be in the log. */
  readonly #unlogged = new Set<string>();
  /**
   * Records known to be in the log but not yet marked in the store: marked
   * with the next stored record, in its transaction (one fsync, not two).
   * Losing them costs nothing but a re-append (dedup: the same index) at start.
   */
  #marks: LoggedMark[] = [];

  private constructor(options: GatewayOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * A gateway over its stores. Every record a crash left unlogged is
   * appended first (ACCESS_LOG_UNAVAILABLE if the log cannot take them: the
   * gateway does not start rather than break a customer's counter order).
   */
  static async open(options: GatewayOptions): Promise<Gateway> {
    const g = new Gateway(options);
    for (const p of await options.records.unlogged()) {
      await g.#append(p.customer, p.counter, p.record);
    }
    for (const m of g.#marks.splice(0)) {
      await options.records.markLogged(m.customer, m.counter, m.index);
    }
    return g;
  }

  async access(principal: RegisteredPrincipal, ask: AccessAsk): Promise<AccessAnswer> {
    const clock = new PhaseClock();
    clock.start('policy');
    if (ask.justification === undefined) {
      throw new AccessError('JUSTIFICATION_MISSING', 'an access needs a justification');
    }
    const site = this.#o.sites.get(ask.site);
    if (site === undefined) {
      throw new AccessError('SITE_UNKNOWN', 'no such data site', { evidence: { site: ask.site } });
    }
    const customerKey = this.#o.residency.customerKey(ask.customer);
    if (customerKey === undefined) {
      throw new AccessError('CUSTOMER_UNKNOWN', 'the customer has no logged enrollment', {
        evidence: { customer: ask.customer },
      });
    }
    const approval = ask.approval ?? null;
    const evidence = approval === null ? null : await this.#o.approvals.evidence(approval);
    const draft = (counter: number, time: string): AccessRecord => ({
      schema: ACCESS_RECORD_SCHEMA,
      site: ask.site,
      customer: ask.customer,
      dataClass: ask.dataClass,
      scope: ask.scope,
      accessor: principal.accessor,
      justification: ask.justification as Justification,
      approval,
      time,
      counter,
    });
    const time = rfc3339(this.#now());
    // The policy first: a refused access writes no record (the key release checks again).
    encodeAccessRecord(draft(1, time));
    const decision = checkAccess({
      policy: this.#o.accessPolicy,
      record: draft(1, time),
      ...(evidence === null ? {} : { request: evidence.request, approvals: evidence.approvals }),
      customerKey,
      now: time,
    });
    clock.end('policy');

    // Ciphertext only: reading (and parsing) it before the record is logged reveals nothing, and
    // the policy has accepted the ask. It starts now, so the site answers while the record is
    // stored and appended and the read weighs less on the witness wait (measured: started after
    // the append, it stretched the wait more).
    // As soon as the record is on its way and the read is in, the key release prepares (all its
    // checks but the receipt's, and its durable audit row) during the wait too; no key leaves it
    // until it has the receipt.
    const reading = clock.around('read', site.read(ask.customer, ask.scope).then(parseRead));
    reading.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    let preparing: Promise<KeyReleaseTicket | undefined> | undefined;
    const startPreparing = (record: Uint8Array): void => {
      preparing = reading.then((read) =>
        read.parsed.size === 0
          ? undefined
          : clock.around(
              'prepare',
              this.#o.keyRelease.prepare({
                record,
                request: evidence?.request,
                approvals: evidence?.approvals,
                batches: [...read.parsed.values()].map((p) => p.bytes),
              }),
            ),
      );
      preparing.catch(() => undefined); // awaited below, as the read
    };

    const logged = await this.#logNext(
      ask.customer,
      (counter) => encodeAccessRecord(draft(counter, time)),
      startPreparing,
      clock,
    );
    const { record, index } = logged;
    const digest = accessRecordDigest(record);
    const receipt = logged.receipt ?? (await this.#receiptFor(record, index)).receipt;
    clock.end('log');

    if (preparing === undefined) startPreparing(record);
    const read = await reading.catch((err: unknown) => {
      this.#checkReceipt(record, index, receipt); // a bad receipt is the first thing to report
      throw err;
    });
    const { parsed } = read;
    const missing =
      ask.scope.kind === 'batches' ? ask.scope.batches.filter((d) => !parsed.has(d)) : [];
    // The key release checks the receipt itself before any key leaves, so the release goes
    // out first and the gateway's own check runs while it is on its way; nothing is served
    // (and keys that came back are wiped) unless the gateway's check passes too.
    const releasing =
      parsed.size === 0
        ? undefined
        : (preparing as Promise<KeyReleaseTicket | undefined>).then((ticket) =>
            clock.around(
              'release',
              this.#o.keyRelease.releasePrepared(ticket as KeyReleaseTicket, receipt),
            ),
          );
    releasing?.catch(() => undefined); // awaited below; a refusal must not go unhandled meanwhile
    // One turn of the event loop first: the request is written to its socket on the next tick,
    // which would otherwise wait behind the check below.
    if (releasing !== undefined) await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      this.#checkReceipt(record, index, receipt);
      if (decision.breakGlass) {
        await this.#o.approvals.breakGlassLogged({
          record: digest,
          index,
          customer: ask.customer,
          principal: principal.pseudonym,
          loggedAt: time,
        });
      }
      if (releasing === undefined) {
        throw new AccessError('BATCHES_NOT_FOUND', 'the site holds no batch in this scope', {
          evidence: { record: digest, index: index.toString(), missing },
        });
      }
    } catch (err) {
      void releasing?.then(wipeKeys, () => undefined);
      throw err;
    }
    const released = await releasing;
    clock.start('open');
    const served: ServedBatch[] = [];
    for (const [d, { batch }] of parsed) {
      const key = released.keys.get(d);
      if (key === undefined) {
        throw new AccessError('RESPONSE_INVALID', 'the key release left out a batch', {
          evidence: { batch: d },
        });
      }
      const personal = await openAllPersonal(batch, key);
      key.fill(0);
      served.push({
        digest: d,
        batchId: batch.batchId,
        region: batch.region,
        productVersion: batch.productVersion,
        createdAt: batch.createdAt,
        events: batch.events.map((e, i) => ({
          sha256: e.sha256,
          rule: e.rule,
          verdict: e.verdict,
          timeBucket: e.timeBucket,
          personal: personal[i] as PersonalFields,
        })),
      });
    }
    clock.end('open');
    return {
      record,
      digest,
      index,
      receipt,
      breakGlass: released.breakGlass,
      batches: served,
      missing,
      truncated: read.truncated,
      timing: clock.done(),
    };
  }

  /**
   * Under the customer's lock: older unlogged records first, then the next
   * counter, stored then sequenced (`appending` is called once the record's
   * append is sent). With no other access of the customer
   * waiting, one call to the log sequences the record and waits for its
   * witnessed checkpoint (the receipt comes back with it, not yet checked
   * here); otherwise the lock is released once the record is sequenced and
   * the wait happens outside.
   */
  async #logNext(
    customer: string,
    build: (counter: number) => Uint8Array,
    appending: (record: Uint8Array) => void,
    clock: PhaseClock,
  ): Promise<{ record: Uint8Array; index: bigint; receipt?: string }> {
    return this.#locked(customer, async () => {
      if (this.#unlogged.has(customer)) {
        for (const p of await this.#o.records.unlogged()) {
          if (p.customer === customer) await this.#append(p.customer, p.counter, p.record);
        }
      }
      const counter =
        (this.#counters.get(customer) ?? (await this.#o.records.lastCounter(customer))) + 1;
      const record = build(counter);
      const marks = this.#marks;
      this.#marks = [];
      try {
        clock.start('store');
        await this.#o.records.reserve(customer, counter, record, marks);
        clock.end('store');
      } catch (err) {
        this.#marks.unshift(...marks);
        this.#counters.delete(customer); // whether it was stored is unknown: ask the store next time
        throw err;
      }
      this.#counters.set(customer, counter);
      this.#unlogged.add(customer);
      clock.start('log');
      if ((this.#queued.get(customer) ?? 0) === 0) {
        const witnessed = this.#receiptFor(record, null);
        appending(record);
        const { index, receipt } = await witnessed;
        // Recovery only needs the mark to skip a re-append (which dedup makes harmless): it is
        // written with the next record rather than with an fsync of its own on this access's path.
        this.#marks.push({ customer, counter, index });
        this.#unlogged.delete(customer);
        return { record, index, receipt };
      }
      const index = await this.#append(customer, counter, record);
      appending(record);
      // Every record of the customer is in the log now (in counter order).
      this.#unlogged.delete(customer);
      return { record, index };
    });
  }

  /** Sequences a stored record in the access log (dedup: a re-append answers the first index). */
  async #append(customer: string, counter: number, record: Uint8Array): Promise<bigint> {
    let index: bigint;
    try {
      ({ index } = await this.#o.accessLog.add(record, { dedup: true }));
    } catch (cause) {
      throw new AccessError('ACCESS_LOG_UNAVAILABLE', 'the access log did not take the record', {
        cause,
        evidence: { customer, counter },
      });
    }
    this.#marks.push({ customer, counter, index });
    return index;
  }

  /**
   * Waits (in the log) for a published checkpoint covering the record: the
   * receipt, which `#checkReceipt` verifies before anything is served.
   */
  async #receiptFor(
    record: Uint8Array,
    expected: bigint | null,
  ): Promise<{ index: bigint; receipt: string }> {
    let receipt: string | undefined;
    let index: bigint | undefined;
    const at = expected?.toString() ?? null;
    const timeoutMs = this.#o.witnessTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(
            new LogError('HTTP_ERROR', 'no witnessed checkpoint in time', {
              evidence: { status: 504 },
            }),
          );
        }, timeoutMs);
      });
      ({ receipt, index } = await Promise.race([
        this.#o.accessLog.add(record, { dedup: true, wait: true }),
        timeout,
      ]));
    } catch (cause) {
      const status = cause instanceof LogError ? cause.evidence?.status : undefined;
      // 504: stored, but no checkpoint meeting the quorum came in time.
      if (status === 504) {
        throw new AccessError(
          'WITNESS_QUORUM_UNAVAILABLE',
          'no witnessed checkpoint covers the record',
          { cause, evidence: { index: at } },
        );
      }
      throw new AccessError('ACCESS_LOG_UNAVAILABLE', 'the access log gave no receipt', {
        cause,
        evidence: { index: at },
      });
    } finally {
      clearTimeout(timer);
    }
    if (receipt === undefined || (expected !== null && index !== expected)) {
      throw new AccessError(
        'ACCESS_LOG_UNAVAILABLE',
        'the access log answered without the receipt',
        {
          evidence: { index: at, answered: index.toString() },
        },
      );
    }
    return { index, receipt };
  }

  /**
   * Verifies the receipt against the access log's tlog-policy here: the log
   * publishing an unwitnessed checkpoint does not make the gateway serve.
   */
  #checkReceipt(record: Uint8Array, index: bigint, receipt: string): void {
    try {
      const v = verifyTlogProof(receipt, record, this.#o.accessLogPolicy, {
        now: BigInt(Math.floor(this.#now() / 1000)),
      });
      if (v.index !== index) {
        throw new AccessError('ACCESS_LOG_UNAVAILABLE', 'the receipt names another index', {
          evidence: { index: index.toString(), receipt: v.index.toString() },
        });
      }
    } catch (cause) {
      if (cause instanceof AccessError) throw cause;
      if (cause instanceof TlogError && cause.code === 'POLICY_QUORUM_NOT_MET') {
        throw new AccessError(
          'WITNESS_QUORUM_UNAVAILABLE',
          'the checkpoint lacks the witness quorum',
          { cause, evidence: { index: index.toString() } },
        );
      }
      throw new AccessError('ACCESS_LOG_UNAVAILABLE', 'the access log receipt does not verify', {
        cause,
        evidence: { index: index.toString() },
      });
    }
  }

  async #locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    this.#queued.set(key, (this.#queued.get(key) ?? 0) + 1);
    const start = (): Promise<T> => {
      const left = (this.#queued.get(key) ?? 1) - 1;
      if (left === 0) this.#queued.delete(key);
      else this.#queued.set(key, left);
      return fn();
    };
    const run = prev.then(start, start);
    const tail = run.catch(() => undefined);
    this.#locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    }
  }
}

/** Zeroes data keys that will not be used (the gateway refused after asking for them). */
function wipeKeys(released: { keys: ReadonlyMap<string, Uint8Array> }): void {
  for (const key of released.keys.values()) key.fill(0);
}

/** A site's answer, parsed: sealed batches by digest. */
interface SiteBatches {
  readonly truncated: boolean;
  readonly parsed: Map<string, { bytes: Uint8Array; batch: TelemetryBatch }>;
}

function parseRead(read: { batches: readonly Uint8Array[]; truncated: boolean }): SiteBatches {
  const parsed = new Map<string, { bytes: Uint8Array; batch: TelemetryBatch }>();
  for (const bytes of read.batches) {
    parsed.set(batchDigest(bytes), { bytes, batch: parseBatch(bytes) });
  }
  return { truncated: read.truncated, parsed };
}

/** RFC 3339 UTC, whole seconds (the access record's time). */
function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
