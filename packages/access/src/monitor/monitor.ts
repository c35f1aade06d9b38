/**
 * The access monitor (the supervisor's, issue 17 §6–7). It tails the access
 * log and the index output log, each with `VerifiedTail` (checkpoint signed
 * by the log and cosigned to the quorum of its c2sp.org/tlog-policy,
 * consistent with the last one verified, entries hashed to its root), and:
 *
 * - checks every access record: it parses; the access policy allows it with
 *   its approvals (`checkAccess` at the record's time, approvals fetched by
 *   the record's approval digest from the approvals service); the
 *   customer's counter continues its last one; a canary customer is never
 *   accessed; a break-glass access alerts at once and must get a valid
 *   supervisor review (an approval payload over the record's digest,
 *   signed by a supervisor key of the policy) before its deadline;
 * - rebuilds the index from the access log with the same MapFn and checks
 *   every output-log entry: same access-log root and index root at its size
 *   (vindex README "Verifying"), and no two entries at one size disagree
 *   (KEYTRANS §10.2).
 *
 * Every alert carries its evidence and is sent once, also across restarts
 * (the keys of sent alerts are kept in `access-monitor.db`, with the last
 * verified checkpoints of both logs: after a restart the monitor replays
 * both logs and requires them to extend what it verified before). After
 * each pass it writes `status.json` (durably), which
 * `readAccessMonitorStatus` reads.
 */
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AccessFormatError,
  AccessIndex,
  type AccessPolicy,
  type AccessRecord,
  type OutputLogEntry,
  accessIndexKey,
  accessRecordDigest,
  checkAccess,
  openApproval,
  parseAccessRecord,
  parseOutputEntry,
} from '@glasshouse/access-format';
import { readFileUpTo, writeFileDurably } from '@glasshouse/durable';
import { CodedError } from '@glasshouse/errors';
import { TailStore, type TailState, VerifiedTail } from '@glasshouse/telemetry';
import { CompactRange, bytesEqual, encodeBase64, hashLeaf } from '@glasshouse/tlog';
import {
  type AccessAlert,
  type AccessAlertKind,
  type AccessAlertSink,
  accessAlertKey,
} from '../alerts.js';
import { AccessError } from '../errors.js';
import { nodeSha256 } from '../hash.js';

/** Where the monitor reads approval requests, approvals and break-glass reviews (the approvals service). */
export interface ApprovalSource {
  /** The request with this digest (exact bytes) and the approval envelopes given for it; null when unknown. */
  approvals(
    requestDigest: string,
  ): Promise<{ readonly request: Uint8Array; readonly approvals: readonly string[] } | null>;
  /** Review envelopes filed for a break-glass access record (by the record's digest). */
  reviews(recordDigest: string): Promise<readonly string[]>;
}

export interface AccessMonitorOptions {
  readonly accessLogUrl: string;
  readonly accessLogPolicy: string;
  readonly outputLogUrl: string;
  readonly outputLogPolicy: string;
  readonly policy: AccessPolicy;
  readonly approvals: ApprovalSource;
  /** The customer's enrolled key (for customer approvals), or undefined when unknown. */
  readonly customerKey: (customer: string) => Uint8Array | undefined;
  /** Canary customers: no one has reason to access their data. */
  readonly canaries?: readonly string[];
  /** Seconds a break-glass access has to get its review. Default 86,400. */
  readonly reviewSeconds?: number;
  /** The monitor's data directory. */
  readonly dir: string;
  readonly alerts: AccessAlertSink;
  /** Told how far a long replay has got. */
  readonly onProgress?: (p: {
    readonly what: string;
    readonly done: bigint;
    readonly of: bigint;
  }) => void;
  readonly now?: () => Date;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

export interface LogStatus {
  readonly url: string;
  readonly size: string;
  readonly checkpoint: string | null;
  /** `ok`, or the code of the last failed check. */
  readonly verification: string;
}

export interface AccessMonitorStatus {
  readonly accessLog: LogStatus;
  readonly outputLog: LogStatus;
  readonly records: number;
  readonly customers: number;
  readonly breakGlass: number;
  /** Break-glass accesses without a valid review yet. */
  readonly reviewsPending: number;
  readonly canaries: number;
  /** Output-log entries checked against the rebuild, and the last size checked. */
  readonly revisionsChecked: number;
  readonly lastRevisionSize: string | null;
  /** Records whose approvals could not be fetched yet (checked again next pass). */
  readonly deferred: number;
  /** Alerts raised since the monitor started (each piece of evidence once). */
  readonly alerts: number;
  readonly checkedAt: string | null;
}

export interface AccessMonitorRun {
  /** Alerts found in this pass (evidence sent before is included; only new ones went to the sink). */
  readonly alerts: readonly AccessAlert[];
  readonly status: AccessMonitorStatus;
}

export const ACCESS_MONITOR_STATE_FILE = 'access-monitor.db';
export const ACCESS_MONITOR_STATUS_FILE = 'status.json';
const MAX_STATUS_BYTES = 1024 * 1024;
const PROGRESS_EVERY = 100_000n;
const ZERO_KEY = new Uint8Array(32);
const decoder = new TextDecoder('utf-8', { fatal: false });

interface PendingReview {
  readonly index: bigint;
  readonly digest: string;
  readonly customer: string;
  readonly deadline: number;
  readonly record: string;
}

interface PendingEntry {
  readonly outputIndex: bigint;
  readonly entry: OutputLogEntry;
  readonly text: string;
}

export interface WrittenAccessMonitorStatus extends AccessMonitorStatus {
  readonly generatedAt: string;
}

/** The status the monitor in `dir` wrote after its last pass, or null before the first. */
export async function readAccessMonitorStatus(
  dir: string,
): Promise<WrittenAccessMonitorStatus | null> {
  const buf = await readFileUpTo(join(dir, ACCESS_MONITOR_STATUS_FILE), MAX_STATUS_BYTES);
  if (buf === null) return null;
  if (buf.length > MAX_STATUS_BYTES) {
    throw new AccessError('MONITOR_STATE_INVALID', 'the status file is over its size limit');
  }
  const text = buf.toString('utf8');
  try {
    const v = JSON.parse(text) as WrittenAccessMonitorStatus | null;
    if (typeof v?.generatedAt !== 'string' || typeof v.accessLog !== 'object') {
      throw new Error('shape');
    }
    return v;
  } catch (cause) {
    throw new AccessError('MONITOR_STATE_INVALID', 'the status file does not decode', { cause });
  }
}

export class AccessMonitor {
  readonly #o: AccessMonitorOptions;
  readonly #store: TailStore;
  readonly #accessTail: VerifiedTail;
  readonly #outputTail: VerifiedTail;
  readonly #now: () => Date;
  readonly #canaries: ReadonlySet<string>;
  readonly #reviewMs: number;
  // Verified positions in this process (null: not yet read since start).
  #access: TailState | null = null;
  #output: TailState | null = null;
  #accessVerification = 'not checked';
  #outputVerification = 'not checked';
  // Record checks.
  readonly #counters = new Map<string, number>();
  #records = 0;
  #breakGlass = 0;
  #pendingReviews: PendingReview[] = [];
  #deferred: {
    index: bigint;
    data: Uint8Array;
    record: AccessRecord;
    evidence: { index: string; digest: string; record: string; checkpoint: string };
  }[] = [];
  // The rebuild: the index and the access log's compact range at the cursor,
  // and the entries read but not consumed yet (MapFn output and leaf hash).
  readonly #index = new AccessIndex({ sha256: nodeSha256 });
  readonly #range = new CompactRange();
  #windowKeys: (string | null)[] = [];
  #windowLeaves: Uint8Array[] = [];
  readonly #revisions = new Map<
    bigint,
    { outputIndex: bigint; entry: OutputLogEntry; text: string }
  >();
  readonly #checkedRoots = new Map<bigint, { logRoot: Uint8Array; indexRoot: Uint8Array }>();
  #pendingEntries: PendingEntry[] = [];
  #revisionsChecked = 0;
  #lastRevisionSize: bigint | null = null;
  #alertsSent = 0;
  #checkedAt: string | null = null;
  #running: Promise<AccessMonitorRun> | undefined;

  private constructor(o: AccessMonitorOptions, store: TailStore) {
    this.#o = o;
    this.#store = store;
    this.#now = o.now ?? ((): Date => new Date());
    this.#canaries = new Set(o.canaries ?? []);
    this.#reviewMs = (o.reviewSeconds ?? 86_400) * 1000;
    const tail = (url: string, policy: string): VerifiedTail =>
      new VerifiedTail({
        url,
        policy,
        now: this.#now,
        ...(o.fetch === undefined ? {} : { fetch: o.fetch }),
        timeoutMs: o.timeoutMs ?? 10_000,
      });
    this.#accessTail = tail(o.accessLogUrl, o.accessLogPolicy);
    this.#outputTail = tail(o.outputLogUrl, o.outputLogPolicy);
  }

  /** Opens the monitor's state in `dir` (a second monitor on it is refused: `STATE_LOCKED`). */
  static open(o: AccessMonitorOptions): AccessMonitor {
    const store = TailStore.open(o.dir, ACCESS_MONITOR_STATE_FILE);
    try {
      return new AccessMonitor(o, store);
    } catch (err) {
      store.close();
      if (err instanceof CodedError) {
        throw new AccessError('CONFIG_INVALID', `a log policy is wrong: ${err.message}`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  /** One pass over both logs; concurrent calls share it. */
  runOnce(): Promise<AccessMonitorRun> {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Runs a pass every `intervalMs` until `signal` aborts. */
  async run(signal: AbortSignal, intervalMs = 10_000): Promise<void> {
    while (!signal.aborted) {
      await this.runOnce();
      await delay(intervalMs, undefined, { signal }).catch(() => undefined);
    }
  }

  status(): AccessMonitorStatus {
    const logStatus = (url: string, s: TailState | null, verification: string): LogStatus => ({
      url,
      size: (s?.size ?? 0n).toString(),
      checkpoint: s?.checkpoint ?? null,
      verification,
    });
    return {
      accessLog: logStatus(this.#o.accessLogUrl, this.#access, this.#accessVerification),
      outputLog: logStatus(this.#o.outputLogUrl, this.#output, this.#outputVerification),
      records: this.#records,
      customers: this.#counters.size,
      breakGlass: this.#breakGlass,
      reviewsPending: this.#pendingReviews.length,
      canaries: this.#canaries.size,
      revisionsChecked: this.#revisionsChecked,
      lastRevisionSize: this.#lastRevisionSize?.toString() ?? null,
      deferred: this.#deferred.length,
      alerts: this.#alertsSent,
      checkedAt: this.#checkedAt,
    };
  }

  async close(): Promise<void> {
    await this.#running?.catch(() => undefined);
    this.#accessTail.close();
    this.#outputTail.close();
    this.#store.close();
  }

  async #run(): Promise<AccessMonitorRun> {
    const raised: AccessAlert[] = [];
    // The output log first: every size it names is then within the access log read after it.
    const output = await this.#stepLog('output', raised);
    const access = await this.#stepLog('access', raised);
    if (access !== null) {
      const retry = this.#deferred;
      this.#deferred = [];
      for (const d of retry) await this.#checkPolicy(d.index, d.data, d.record, d.evidence, raised);
      let n = 0n;
      for (const e of access.entries) {
        this.#windowKeys.push(accessIndexKey(e.data));
        this.#windowLeaves.push(hashLeaf(e.data));
        await this.#checkRecord(e.index, e.data, raised);
        if (++n % PROGRESS_EVERY === 0n) {
          this.#o.onProgress?.({
            what: 'access records checked',
            done: e.index + 1n,
            of: access.next.size,
          });
        }
      }
    }
    if (output !== null) {
      for (const e of output.entries) this.#takeOutputEntry(e.index, e.data, raised);
    }
    this.#checkRevisions(raised);
    await this.#checkReviews(raised);
    this.#checkedAt = this.#now().toISOString();
    await this.#send(raised);
    const status = this.status();
    const written: WrittenAccessMonitorStatus = { generatedAt: this.#checkedAt, ...status };
    await writeFileDurably(
      join(this.#o.dir, ACCESS_MONITOR_STATUS_FILE),
      `${JSON.stringify(written, null, 2)}\n`,
    );
    return { alerts: raised, status };
  }

  /**
   * One verified step of a log. The first step after a start reads the log
   * from the beginning (the rebuild needs every entry) and then requires the
   * log to extend the checkpoint saved before the restart.
   */
  async #stepLog(which: 'access' | 'output', raised: AccessAlert[]) {
    const tail = which === 'access' ? this.#accessTail : this.#outputTail;
    const url = which === 'access' ? this.#o.accessLogUrl : this.#o.outputLogUrl;
    const prev = which === 'access' ? this.#access : this.#output;
    let update;
    try {
      update = await tail.step(prev);
      const saved = prev === null ? this.#store.state(which) : null;
      // The log must extend what was verified before the restart (RFC 9162 §2.1.4.2; a
      // smaller log is a rollback, another root at the same size a split view).
      if (saved !== null) await tail.step(saved);
    } catch (err) {
      if (!(err instanceof CodedError)) throw err;
      const code = (err as CodedError).code;
      if (which === 'access') this.#accessVerification = code;
      else this.#outputVerification = code;
      if (code !== 'LOG_UNREACHABLE') {
        raised.push(
          this.#alert('log-invalid', url, `the ${which} log fails verification: ${err.message}`, {
            code,
            evidence: { ...err.evidence },
          }),
        );
      }
      return null;
    }
    if (which === 'access') {
      this.#access = update.next;
      this.#accessVerification = 'ok';
    } else {
      this.#output = update.next;
      this.#outputVerification = 'ok';
    }
    this.#store.commit(which, { state: update.next });
    return update;
  }

  async #checkRecord(index: bigint, data: Uint8Array, raised: AccessAlert[]): Promise<void> {
    const url = this.#o.accessLogUrl;
    const checkpoint = this.#access?.checkpoint ?? '';
    let record: AccessRecord;
    try {
      record = parseAccessRecord(data);
    } catch (err) {
      if (!(err instanceof AccessFormatError)) throw err;
      raised.push(
        this.#alert('record-invalid', url, `access-log entry ${index} is not an access record`, {
          code: err.code,
          evidence: {
            index: index.toString(),
            entry: decoder.decode(data).slice(0, 4096),
            checkpoint,
            error: { ...err.evidence },
          },
        }),
      );
      this.#records += 1;
      return;
    }
    this.#records += 1;
    const digest = accessRecordDigest(data);
    const evidence = { index: index.toString(), digest, record: decoder.decode(data), checkpoint };
    const customer = record.customer;
    if (this.#canaries.has(customer)) {
      raised.push(
        this.#alert(
          'canary-access',
          url,
          `access-log entry ${index} accesses canary customer ${customer}`,
          {
            customer,
            evidence,
          },
        ),
      );
    }
    // Issue 17 §1, §6: each customer's counter runs 1, 2, 3 … in log order.
    const last = this.#counters.get(customer) ?? 0;
    if (record.counter !== last + 1) {
      raised.push(
        this.#alert(
          'counter-gap',
          url,
          `customer ${customer}: counter ${record.counter} after ${last}`,
          {
            customer,
            code: 'RECORD_OMITTED',
            evidence: { ...evidence, expectedCounter: last + 1, counter: record.counter },
          },
        ),
      );
    }
    this.#counters.set(customer, Math.max(last, record.counter));
    await this.#checkPolicy(index, data, record, evidence, raised);
  }

  /** `checkAccess` with the record's approvals; deferred to the next pass when they cannot be fetched. */
  async #checkPolicy(
    index: bigint,
    data: Uint8Array,
    record: AccessRecord,
    evidence: { index: string; digest: string; record: string; checkpoint: string },
    raised: AccessAlert[],
  ): Promise<void> {
    const url = this.#o.accessLogUrl;
    const customer = record.customer;
    let approvals: { readonly request: Uint8Array; readonly approvals: readonly string[] } | null =
      null;
    if (record.approval !== null) {
      try {
        approvals = await this.#o.approvals.approvals(record.approval);
      } catch {
        this.#deferred.push({ index, data, record, evidence });
        return;
      }
    }
    const key = this.#o.customerKey(customer);
    try {
      const decision = checkAccess({
        policy: this.#o.policy,
        record,
        ...(approvals === null
          ? {}
          : { request: approvals.request, approvals: approvals.approvals }),
        customerKey: key ?? ZERO_KEY,
        // Approvals must have been valid when the access happened.
        now: record.time,
      });
      if (decision.breakGlass) {
        this.#breakGlass += 1;
        raised.push(
          this.#alert(
            'break-glass',
            url,
            `break-glass access to customer ${customer} (entry ${index})`,
            {
              customer,
              evidence,
            },
          ),
        );
        this.#pendingReviews.push({
          index,
          digest: evidence.digest,
          customer,
          deadline: Date.parse(record.time) + this.#reviewMs,
          record: evidence.record,
        });
      }
    } catch (err) {
      if (!(err instanceof AccessFormatError)) throw err;
      raised.push(
        this.#alert(
          'access-not-allowed',
          url,
          `access-log entry ${index} fails the access policy: ${err.message}`,
          {
            customer,
            code: err.code,
            evidence: {
              ...evidence,
              approvalFound: approvals !== null,
              customerKeyKnown: key !== undefined,
              error: { ...err.evidence },
            },
          },
        ),
      );
    }
  }

  #takeOutputEntry(outputIndex: bigint, data: Uint8Array, raised: AccessAlert[]): void {
    const url = this.#o.outputLogUrl;
    const text = decoder.decode(data);
    let entry: OutputLogEntry;
    try {
      entry = parseOutputEntry(data);
    } catch (err) {
      if (!(err instanceof AccessFormatError)) throw err;
      raised.push(
        this.#alert('index-mismatch', url, `output-log entry ${outputIndex} does not parse`, {
          code: err.code,
          evidence: { outputIndex: outputIndex.toString(), entry: text.slice(0, 2048) },
        }),
      );
      return;
    }
    if (entry.log !== this.#accessTail.origin) {
      raised.push(
        this.#alert('index-mismatch', url, `output-log entry ${outputIndex} is for another log`, {
          code: 'INPUT_CHECKPOINT_MISMATCH',
          evidence: {
            outputIndex: outputIndex.toString(),
            entry: text,
            expectedLog: this.#accessTail.origin,
          },
        }),
      );
      return;
    }
    const seen = this.#revisions.get(entry.size);
    if (seen === undefined) {
      this.#revisions.set(entry.size, { outputIndex, entry, text });
    } else if (
      !bytesEqual(seen.entry.indexRoot, entry.indexRoot) ||
      !bytesEqual(seen.entry.logRoot, entry.logRoot)
    ) {
      // KEYTRANS §10.2: two roots at one size.
      raised.push(
        this.#alert('index-fork', url, `two index revisions at access-log size ${entry.size}`, {
          code: 'INDEX_FORK',
          evidence: {
            size: entry.size.toString(),
            a: { outputIndex: seen.outputIndex.toString(), entry: seen.text },
            b: { outputIndex: outputIndex.toString(), entry: text },
          },
        }),
      );
    }
    this.#pendingEntries.push({ outputIndex, entry, text });
  }

  /** Advances the rebuild to each pending output entry's size and compares roots (vindex "Verifying"). */
  #checkRevisions(raised: AccessAlert[]): void {
    const url = this.#o.outputLogUrl;
    const available = this.#index.size + BigInt(this.#windowKeys.length);
    const ready = this.#pendingEntries
      .filter((p) => p.entry.size <= available)
      .sort((a, b) => (a.entry.size < b.entry.size ? -1 : a.entry.size > b.entry.size ? 1 : 0));
    this.#pendingEntries = this.#pendingEntries.filter((p) => p.entry.size > available);
    for (const p of ready) {
      let roots = this.#checkedRoots.get(p.entry.size);
      if (roots === undefined && p.entry.size >= this.#index.size) {
        this.#consume(p.entry.size);
        roots = { logRoot: this.#range.root(), indexRoot: this.#index.root() };
        this.#checkedRoots.set(p.entry.size, roots);
      }
      this.#revisionsChecked += 1;
      this.#lastRevisionSize = p.entry.size;
      const evidence = {
        outputIndex: p.outputIndex.toString(),
        entry: p.text,
        ...(roots === undefined
          ? {}
          : {
              rebuiltLogRoot: encodeBase64(roots.logRoot),
              rebuiltIndexRoot: encodeBase64(roots.indexRoot),
            }),
        accessLogCheckpoint: this.#access?.checkpoint ?? null,
      };
      if (roots === undefined) {
        raised.push(
          this.#alert(
            'index-mismatch',
            url,
            `output-log entry ${p.outputIndex} goes back to size ${p.entry.size}`,
            {
              code: 'INDEX_ENTRY_OUT_OF_ORDER',
              evidence,
            },
          ),
        );
      } else if (!bytesEqual(roots.logRoot, p.entry.logRoot)) {
        raised.push(
          this.#alert(
            'index-mismatch',
            url,
            `output-log entry ${p.outputIndex} names another access log at size ${p.entry.size}`,
            {
              code: 'INPUT_CHECKPOINT_MISMATCH',
              evidence,
            },
          ),
        );
      } else if (!bytesEqual(roots.indexRoot, p.entry.indexRoot)) {
        raised.push(
          this.#alert(
            'index-mismatch',
            url,
            `output-log entry ${p.outputIndex}: the index root at size ${p.entry.size} is not the rebuilt one`,
            {
              code: 'INDEX_ROOT_MISMATCH',
              evidence,
            },
          ),
        );
      }
    }
  }

  /** Feeds the window into the rebuild up to `size` entries. */
  #consume(size: bigint): void {
    const n = Number(size - this.#index.size);
    const of = size;
    for (let i = 0; i < n; i++) {
      this.#index.appendKey(this.#windowKeys[i] as string | null);
      this.#range.append(this.#windowLeaves[i] as Uint8Array);
      if (BigInt(i + 1) % PROGRESS_EVERY === 0n) {
        this.#o.onProgress?.({ what: 'index rebuilt', done: this.#index.size, of });
      }
    }
    this.#windowKeys = this.#windowKeys.slice(n);
    this.#windowLeaves = this.#windowLeaves.slice(n);
  }

  async #checkReviews(raised: AccessAlert[]): Promise<void> {
    const now = this.#now().getTime();
    const still: PendingReview[] = [];
    for (const p of this.#pendingReviews) {
      let reviews: readonly string[];
      try {
        reviews = await this.#o.approvals.reviews(p.digest);
      } catch {
        still.push(p);
        continue;
      }
      if (reviews.some((env) => this.#validReview(env, p))) continue;
      still.push(p);
      if (now > p.deadline) {
        raised.push(
          this.#alert(
            'break-glass-unreviewed',
            this.#o.accessLogUrl,
            `break-glass access ${p.index} has no review past its deadline`,
            {
              customer: p.customer,
              code: 'REVIEW_OVERDUE',
              evidence: {
                index: p.index.toString(),
                digest: p.digest,
                deadline: new Date(p.deadline).toISOString(),
                record: p.record,
              },
            },
          ),
        );
      }
    }
    this.#pendingReviews = still;
  }

  /** A review: a supervisor's `approve` over the record's digest, signed by a key of the policy, before the deadline. */
  #validReview(envelope: string, p: PendingReview): boolean {
    try {
      const opened = openApproval(envelope, {
        supervisor: this.#o.policy.supervisorKeys,
        customer: this.#o.customerKey(p.customer) ?? ZERO_KEY,
      });
      const a = opened.approval;
      return (
        a.request === p.digest &&
        a.role === 'supervisor' &&
        a.decision === 'approve' &&
        Date.parse(a.decidedAt) <= p.deadline
      );
    } catch (err) {
      if (err instanceof AccessFormatError) return false;
      throw err;
    }
  }

  #alert(
    kind: AccessAlertKind,
    log: string,
    message: string,
    more: { customer?: string; code?: string; evidence: Record<string, unknown> },
  ): AccessAlert {
    return {
      kind,
      time: this.#now().toISOString(),
      log,
      ...(more.customer === undefined ? {} : { customer: more.customer }),
      message,
      ...(more.code === undefined ? {} : { code: more.code }),
      evidence: more.evidence,
    };
  }

  /** Sends the alerts whose evidence was never sent, remembering each durably. */
  async #send(alerts: readonly AccessAlert[]): Promise<void> {
    for (const a of alerts) {
      const key = accessAlertKey(a);
      if (this.#store.hasAlerted(key)) continue;
      try {
        await this.#o.alerts.send(a);
      } catch (cause) {
        throw new AccessError('ALERT_DELIVERY_FAILED', 'an alert could not be delivered', {
          cause,
          evidence: { kind: a.kind },
        });
      }
      this.#store.addAlerted(key);
      this.#alertsSent += 1;
    }
  }
}
