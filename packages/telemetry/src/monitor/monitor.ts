/**
 * The residency monitor (the supervisor's): tails the residency log and the
 * ingest log of every site any logged policy version names, each through
 * its tlog-tiles API with the same verified tailing as the residency view
 * (log signature, witness quorum, consistency with the last verified
 * checkpoint, entries hashed to the signed root), and checks every entry:
 *
 * - residency log: each policy entry carries both parties' signatures and
 *   chains to the previous version; each enrollment carries the customer's
 *   and the vendor's signatures and follows the customer's sequence
 *   (`ResidencyState.apply`);
 * - each ingest log: every `stored` entry names a logged policy version
 *   that designates the entry's region to this site, and the customer's
 *   logged enrollment is in that region (`checkStoredEntry`).
 *
 * A refused entry is an `entry-rejected` alert with the entry, the
 * checkpoint it is under and the residency log's facts; a log that fails
 * its checks (quorum, signature, inconsistency with both checkpoints,
 * rollback) is the witness monitor's alert of the same kind. Each piece of
 * evidence is sent once: the keys of sent alerts are kept with the state.
 * A log that cannot be read is retried at every pass; once it has been
 * unreachable for longer than `unreachableAlertMs` (default 5 minutes) one
 * `fetch-failed` alert is sent for that outage (a log that stays
 * unreadable to its monitor can show others what it likes). The first pass
 * that reads it again clears the outage, so a later one alerts again. The
 * outage start is kept with the state, so a restart neither forgets nor
 * repeats it.
 *
 * Order within a run: the residency log first, then the sites, so a site is
 * never judged against an older residency log than the one it acted on.
 */
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { readFileUpTo, writeFileDurably } from '@glasshouse/durable';
import {
  type PolicyKeys,
  ResidencyError,
  type Site,
  checkStoredEntry,
  parseIngestLogEntry,
} from '@glasshouse/residency';
import { CodedError } from '@glasshouse/errors';
import { parsePolicy } from '@glasshouse/tlog';
import type { Alert, AlertSink } from '@glasshouse/witness';
import { TelemetryError } from '../errors.js';
import { TailStore } from '../view/tail-store.js';
import { VerifiedTail } from '../view/tail.js';
import { ResidencyView } from '../view/view.js';
import { alertKey, entryAlert, stepAlert } from './checks.js';

export interface ResidencyMonitorOptions {
  /** The residency log's tlog-tiles prefix. */
  readonly residencyLogUrl: string;
  /** The residency log's c2sp.org/tlog-policy. */
  readonly residencyLogPolicy: string;
  /**
   * The `witness`/`group`/`quorum` lines every site's ingest log must meet;
   * default those of the residency log's policy.
   */
  readonly siteWitnessPolicy?: string;
  readonly keys: PolicyKeys;
  /** The monitor's data directory. */
  readonly dir: string;
  readonly alerts: AlertSink;
  readonly now?: () => Date;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly retries?: number;
  /** How long a log may stay unreachable before its `fetch-failed` alert. Default 5 minutes. */
  readonly unreachableAlertMs?: number;
}

/** Per-site counts from its ingest log (JSON-safe: what `glasshouse residency status` prints). */
export interface SiteStatus {
  readonly site: string;
  readonly country: string;
  readonly logUrl: string;
  /** Regions the latest logged policy designates to this site. */
  readonly designated: readonly string[];
  /** Regions of the batches its ingest log says it stored, with batch counts. */
  readonly regionsHeld: Readonly<Record<string, number>>;
  readonly batches: number;
  readonly events: number;
  readonly deletedBatches: number;
  /** The last verified checkpoint of its ingest log, or null. */
  readonly checkpoint: string | null;
  readonly size: string;
  /** `ok`, or the code of the last failed check of the log. */
  readonly verification: string;
  /** Entries that broke a residency check (each alerted once). */
  readonly violations: number;
  readonly checkedAt: string | null;
  /** When the current outage of its ingest log began (null while it is readable). */
  readonly unreachableSince: string | null;
}

export interface ResidencyLogStatus {
  readonly url: string;
  readonly size: string;
  readonly checkpoint: string | null;
  readonly policy: { readonly version: number; readonly digest: string } | null;
  readonly customers: number;
  readonly refusedEntries: number;
  readonly verification: string;
  /** When the current outage of the residency log began (null while it is readable). */
  readonly unreachableSince: string | null;
}

export interface ResidencyStatus {
  readonly residencyLog: ResidencyLogStatus;
  readonly sites: readonly SiteStatus[];
}

export interface MonitorRun {
  /** Alerts raised in this run (already-sent evidence included; only new ones went to the sink). */
  readonly alerts: readonly Alert[];
  readonly status: ResidencyStatus;
}

interface SiteRecord {
  regionsHeld: Record<string, number>;
  batches: number;
  events: number;
  deletedBatches: number;
  violations: number;
  verification: string;
  checkedAt: string | null;
  unreachableSince: string | null;
}

const emptyRecord = (): SiteRecord => ({
  regionsHeld: {},
  batches: 0,
  events: 0,
  deletedBatches: 0,
  violations: 0,
  verification: 'not checked',
  checkedAt: null,
  unreachableSince: null,
});

/** The store's record key of the residency log's outage. */
const RESIDENCY_LOG_RECORD = 'residency-log';
const UNREACHABLE_ALERT_MS = 5 * 60_000;

export const MONITOR_STATE_FILE = 'residency-monitor.db';
/** Written after every pass, so `glasshouse residency status` can read it while the monitor runs. */
export const MONITOR_STATUS_FILE = 'status.json';
const MAX_STATUS_BYTES = 4 * 1024 * 1024;

/** The status of the last pass as written to `<dir>/status.json`. */
export interface WrittenStatus extends ResidencyStatus {
  readonly generatedAt: string;
}

/**
 * Reads the status the monitor in `dir` wrote after its last pass, or null
 * before the first (`STATE_CORRUPT` when it does not decode).
 */
export async function readResidencyStatus(dir: string): Promise<WrittenStatus | null> {
  const buf = await readFileUpTo(join(dir, MONITOR_STATUS_FILE), MAX_STATUS_BYTES);
  if (buf === null) return null;
  if (buf.length > MAX_STATUS_BYTES) {
    throw new TelemetryError('STATE_CORRUPT', 'the status file is over its size limit');
  }
  const text = buf.toString('utf8');
  try {
    const value = JSON.parse(text) as WrittenStatus;
    if (typeof value.generatedAt !== 'string' || !Array.isArray(value.sites))
      throw new Error('shape');
    return value;
  } catch (cause) {
    throw new TelemetryError('STATE_CORRUPT', 'the status file does not decode', { cause });
  }
}

export class ResidencyMonitor {
  readonly #opts: ResidencyMonitorOptions;
  readonly #view: ResidencyView;
  readonly #store: TailStore;
  readonly #witnessLines: string;
  readonly #now: () => Date;
  readonly #tails = new Map<string, VerifiedTail>();
  #residencyVerification = 'not checked';
  #running: Promise<MonitorRun> | undefined;

  private constructor(opts: ResidencyMonitorOptions, view: ResidencyView, store: TailStore) {
    this.#opts = opts;
    this.#view = view;
    this.#store = store;
    this.#now = opts.now ?? ((): Date => new Date());
    this.#witnessLines =
      opts.siteWitnessPolicy ??
      opts.residencyLogPolicy
        .split('\n')
        .filter((l) => !l.startsWith('log '))
        .join('\n');
  }

  static open(opts: ResidencyMonitorOptions): ResidencyMonitor {
    const view = ResidencyView.open({
      url: opts.residencyLogUrl,
      logPolicy: opts.residencyLogPolicy,
      keys: opts.keys,
      dir: join(opts.dir, 'residency-log'),
      ...(opts.now === undefined ? {} : { now: opts.now }),
      ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      ...(opts.retries === undefined ? {} : { retries: opts.retries }),
    });
    let store: TailStore;
    try {
      store = TailStore.open(opts.dir, MONITOR_STATE_FILE);
    } catch (err) {
      void view.close();
      throw err;
    }
    return new ResidencyMonitor(opts, view, store);
  }

  /** The monitor's verified view of the residency log. */
  get view(): ResidencyView {
    return this.#view;
  }

  /** One pass over the residency log and every site; concurrent calls share it. */
  runOnce(): Promise<MonitorRun> {
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Runs every `intervalMs` until `signal` aborts; `onPass` sees each pass's result. */
  async run(
    signal: AbortSignal,
    intervalMs = 10_000,
    onPass?: (run: MonitorRun) => void,
  ): Promise<void> {
    while (!signal.aborted) {
      onPass?.(await this.runOnce());
      // Ends early on abort (rejecting, ignored: the loop's condition ends it). The wait's abort
      // listener goes when the wait does: one left per pass added up (Node's
      // MaxListenersExceededWarning after 11 passes under npm start).
      await delay(intervalMs, undefined, { signal }).catch(() => undefined);
    }
  }

  status(): ResidencyStatus {
    const state = this.#view.state;
    const policy = state.policy;
    return {
      residencyLog: {
        url: this.#opts.residencyLogUrl,
        size: this.#view.size.toString(),
        checkpoint: this.#view.checkpoint,
        policy: policy === null ? null : { version: policy.policy.version, digest: policy.digest },
        customers: state.customers().length,
        refusedEntries: this.#view.refused.length,
        verification: this.#residencyVerification,
        unreachableSince: this.#residencyOutage().since,
      },
      sites: this.#sites().map((site) => this.#siteStatus(site)),
    };
  }

  async close(): Promise<void> {
    await this.#running?.catch(() => undefined);
    for (const t of this.#tails.values()) t.close();
    await this.#view.close();
    this.#store.close();
  }

  async #run(): Promise<MonitorRun> {
    const raised: Alert[] = [];
    const log = this.#opts.residencyLogUrl;
    try {
      const r = await this.#view.refresh();
      this.#residencyVerification = 'ok';
      // Readable again: the outage (if any) is over.
      if (this.#residencyOutage().since !== null) {
        this.#store.putRecord(RESIDENCY_LOG_RECORD, { since: null });
      }
      for (const refused of r.refused) {
        raised.push(this.#refusedResidencyEntry(refused.index, refused.code, refused.message));
      }
    } catch (err) {
      if (!(err instanceof CodedError)) throw err;
      const coded = err as CodedError;
      this.#residencyVerification = coded.code;
      if (coded.code === 'LOG_UNREACHABLE') {
        const since = this.#residencyOutage().since ?? this.#now().toISOString();
        this.#store.putRecord(RESIDENCY_LOG_RECORD, { since });
        const outage = this.#outageAlert(log, this.#view.origin, since, coded);
        if (outage !== undefined) raised.push(outage);
      } else {
        raised.push(stepAlert(log, this.#view.origin, coded, this.#now()));
      }
    }
    for (const site of this.#sites()) raised.push(...(await this.#checkSite(site)));
    await this.#send(raised);
    const status = this.status();
    const written: WrittenStatus = { generatedAt: this.#now().toISOString(), ...status };
    await writeFileDurably(
      join(this.#opts.dir, MONITOR_STATUS_FILE),
      `${JSON.stringify(written, null, 2)}\n`,
    );
    return { alerts: raised, status };
  }

  #residencyOutage(): { since: string | null } {
    const record = this.#store.record(RESIDENCY_LOG_RECORD) as { since?: unknown } | undefined;
    return { since: typeof record?.since === 'string' ? record.since : null };
  }

  /**
   * The `fetch-failed` alert of an outage that began at `since`, once it has
   * lasted `unreachableAlertMs`; undefined before. Its evidence names the
   * log and the outage's start only, so it is sent once per outage.
   */
  #outageAlert(
    log: string,
    origin: string | undefined,
    since: string,
    err: CodedError,
  ): Alert | undefined {
    const now = this.#now();
    const lasted = now.getTime() - Date.parse(since);
    if (!(lasted >= (this.#opts.unreachableAlertMs ?? UNREACHABLE_ALERT_MS))) return undefined;
    return {
      kind: 'fetch-failed',
      time: now.toISOString(),
      log,
      ...(origin === undefined ? {} : { origin }),
      message: `the log has been unreachable since ${since} (${Math.round(lasted / 1000)} s): ${err.message}`,
      code: err.code,
      evidence: { url: log, unreachableSince: since },
    };
  }

  #refusedResidencyEntry(index: bigint, code: string, message: string): Alert {
    return entryAlert({
      log: this.#opts.residencyLogUrl,
      origin: this.#view.origin,
      index,
      data: this.#view.entry(index) ?? new Uint8Array(),
      checkpoint: this.#view.checkpoint ?? '',
      err: new ResidencyError(code as ResidencyError['code'], message),
      message: `residency-log entry ${index} is refused`,
      time: this.#now(),
    });
  }

  /** Every site any logged policy version names; the latest version's description wins. */
  #sites(): Site[] {
    const byId = new Map<string, Site>();
    for (const p of this.#view.policies()) for (const s of p.policy.sites) byId.set(s.id, s);
    return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  #tailOf(site: Site): VerifiedTail {
    const key = `${site.id} ${site.verifierKey} ${site.ingestUrl}`;
    let tail = this.#tails.get(key);
    if (tail === undefined) {
      tail = new VerifiedTail({
        url: new URL('log/', site.ingestUrl).href,
        policy: parsePolicy(`log ${site.verifierKey}\n${this.#witnessLines}`),
        ...(this.#opts.now === undefined ? {} : { now: this.#opts.now }),
        ...(this.#opts.fetch === undefined ? {} : { fetch: this.#opts.fetch }),
        timeoutMs: this.#opts.timeoutMs ?? 5_000,
        retries: this.#opts.retries ?? 1,
      });
      this.#tails.set(key, tail);
    }
    return tail;
  }

  async #checkSite(site: Site): Promise<Alert[]> {
    const key = `site:${site.id}`;
    const record = { ...emptyRecord(), ...(this.#store.record(key) as SiteRecord | undefined) };
    const tail = this.#tailOf(site);
    const alerts: Alert[] = [];
    record.checkedAt = this.#now().toISOString();
    let update;
    try {
      update = await tail.step(this.#store.state(key));
    } catch (err) {
      if (!(err instanceof CodedError)) throw err;
      const coded = err as CodedError;
      record.verification = coded.code;
      if (coded.code !== 'LOG_UNREACHABLE') {
        this.#store.putRecord(key, record);
        return [stepAlert(tail.url, tail.origin, coded, this.#now())];
      }
      record.unreachableSince ??= record.checkedAt;
      this.#store.putRecord(key, record);
      const outage = this.#outageAlert(tail.url, tail.origin, record.unreachableSince, coded);
      return outage === undefined ? [] : [outage];
    }
    record.unreachableSince = null;
    const state = this.#view.state;
    for (const e of update.entries) {
      let entry;
      try {
        entry = parseIngestLogEntry(e.data);
        if (entry.kind === 'stored') {
          record.batches += 1;
          record.events += entry.events;
          record.regionsHeld[entry.region] = (record.regionsHeld[entry.region] ?? 0) + 1;
          checkStoredEntry(state, site.id, entry);
        } else {
          if (entry.site !== site.id) {
            throw new ResidencyError(
              'INGEST_ENTRY_INVALID',
              "the entry names another site than the log's",
              {
                evidence: { entry: { ...entry }, siteId: site.id },
              },
            );
          }
          record.deletedBatches += entry.batches.length;
        }
      } catch (err) {
        if (!(err instanceof ResidencyError)) throw err;
        record.violations += 1;
        alerts.push(
          entryAlert({
            log: tail.url,
            origin: tail.origin,
            index: e.index,
            data: e.data,
            checkpoint: update.next.checkpoint,
            err,
            message: `site ${site.id}: ingest-log entry ${e.index} breaks the residency policy`,
            time: this.#now(),
            site: site.id,
          }),
        );
      }
    }
    record.verification = 'ok';
    // Alerts first (durably, once each), then the state: a crash re-checks, never skips.
    await this.#send(alerts);
    this.#store.commit(key, { state: update.next, record });
    return alerts;
  }

  /** Sends the alerts whose evidence was never sent, remembering each durably. */
  async #send(alerts: readonly Alert[]): Promise<void> {
    for (const a of alerts) {
      const key = alertKey(a);
      if (this.#store.hasAlerted(key)) continue;
      await this.#opts.alerts.send(a);
      this.#store.addAlerted(key);
    }
  }

  #siteStatus(site: Site): SiteStatus {
    const key = `site:${site.id}`;
    const record = { ...emptyRecord(), ...(this.#store.record(key) as SiteRecord | undefined) };
    const tailState = this.#store.state(key);
    const policy = this.#view.state.policy?.policy;
    const designated =
      policy === undefined
        ? []
        : Object.entries(policy.regions)
            .filter(([, id]) => id === site.id)
            .map(([region]) => region)
            .concat(policy.default === site.id ? ['(default)'] : []);
    return {
      site: site.id,
      country: site.country,
      logUrl: new URL('log/', site.ingestUrl).href,
      designated,
      regionsHeld: record.regionsHeld,
      batches: record.batches,
      events: record.events,
      deletedBatches: record.deletedBatches,
      checkpoint: tailState?.checkpoint ?? null,
      size: (tailState?.size ?? 0n).toString(),
      verification: record.verification,
      violations: record.violations,
      checkedAt: record.checkedAt,
      unreachableSince: record.unreachableSince,
    };
  }
}
