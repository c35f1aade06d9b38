/**
 * A data site assembled: its storage (SQLite in the data directory, or a
 * PostgreSQL schema shared by every frontend of the site), its ingest log
 * (a @glasshouse/log log in the same place, witnessed), the write path, and
 * the background work (recovery of unlogged entries, retention).
 */
import { join } from 'node:path';
import {
  type Log,
  type LogStorage,
  type LogWitnessingOptions,
  type OpenLogOptions,
  initLog,
  openLog,
  openPostgresStorage,
  openSqliteStorage,
} from '@glasshouse/log';
import { parseSignerKey } from '@glasshouse/tlog';
import { TelemetryError } from '../errors.js';
import { defaultBatchParser, parseThenStore } from './batch-parser.js';
import { type ResidencyLookup, SiteIngest } from './ingest.js';
import { SiteMetrics } from './metrics.js';
import type { VerdictList } from '@glasshouse/release-format';
import { openPostgresSiteStorage } from './postgres-storage.js';
import { openSqliteSiteStorage } from './sqlite-thread.js';
import type { BatchWriter, SiteStorage } from './storage.js';

const SITE_ID = /^[a-z0-9-]{2,32}$/;
/** The ingest log's sequencer gathers entries this long at most (default; `log.sequencer`). */
const SEQUENCE_DELAY_MS = 2;

export interface RetentionOptions {
  /** Batches stored longer ago than this are deleted. */
  readonly periodMs: number;
  /** How often retention runs. Default 60 s. */
  readonly intervalMs?: number;
}

export interface OpenSiteOptions {
  /** The site id of the residency policy (`[a-z0-9-]{2,32}`). */
  readonly siteId: string;
  /** The ingest log's `PRIVATE+KEY+…` signed-note key; its name is the log origin. */
  readonly logSignerKey: string;
  /** Data directory (SQLite databases and tiles). */
  readonly dir: string;
  /** PostgreSQL URL: site tables and the ingest log live there instead (schemas `site_<id>`, `ingest_<id>`). */
  readonly postgres?: string | undefined;
  /** Publish only checkpoints a witness quorum cosigned (c2sp.org/tlog-witness). */
  readonly witnessing?: LogWitnessingOptions | undefined;
  readonly residency: ResidencyLookup;
  readonly retention?: RetentionOptions | undefined;
  /** How often unlogged entries are looked for. Default 5 s. */
  readonly recoverIntervalMs?: number;
  readonly receiptTimeoutMs?: number;
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: () => number;
  /** Tuning of the ingest log's sequencer and integrator. */
  readonly log?: Pick<OpenLogOptions, 'sequencer' | 'integrator' | 'pollMs'>;
  /** Told about failures of background work (recovery, retention, integration). */
  readonly onError?: (what: string, err: unknown) => void;
}

export class DataSite {
  readonly siteId: string;
  readonly storage: SiteStorage;
  readonly log: Log;
  readonly logStorage: LogStorage;
  readonly ingest: SiteIngest;
  readonly metrics: SiteMetrics;
  readonly #writer: BatchWriter;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #running = new Set<Promise<unknown>>();
  #closed = false;

  constructor(parts: {
    siteId: string;
    storage: SiteStorage;
    log: Log;
    logStorage: LogStorage;
    ingest: SiteIngest;
    metrics: SiteMetrics;
    writer: BatchWriter;
  }) {
    this.#writer = parts.writer;
    this.siteId = parts.siteId;
    this.storage = parts.storage;
    this.log = parts.log;
    this.logStorage = parts.logStorage;
    this.ingest = parts.ingest;
    this.metrics = parts.metrics;
  }

  /**
   * Imports a vendor verdict list (release-format's `glasshouse.verdict-list/v1`,
   * parsed) into the reputation facts. The caller has verified where the
   * list came from: a `verdicts` release through the supervised channel
   * (TUF with both signatures, the release log, the VSA). Returns how many
   * verdicts were imported.
   */
  async importVerdictList(list: VerdictList): Promise<number> {
    await this.storage.importVerdicts(list.verdicts);
    return list.verdicts.length;
  }

  /** Runs `job` every `intervalMs` until close; a failure is reported, never fatal. */
  every(
    intervalMs: number,
    what: string,
    job: () => Promise<unknown>,
    onError: (w: string, e: unknown) => void,
  ): void {
    const tick = (): void => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        const run = job()
          .catch((err: unknown) => {
            onError(what, err);
          })
          .finally(() => {
            this.#running.delete(run);
            if (!this.#closed) tick();
          });
        this.#running.add(run);
      }, intervalMs);
      this.#timers.add(timer);
    };
    tick();
  }

  /** Stops background work, lets queued log writes finish, closes the log and both storages. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.allSettled([...this.#running]);
    await this.log.close();
    await this.storage.close();
    await this.logStorage.close();
    await this.#writer.close();
  }
}

/**
 * Opens a data site: storage, ingest log (created on first start), the
 * write path; appends whatever a crash left unlogged before it resolves,
 * then keeps doing so on a timer, and runs retention.
 */
export async function openSite(opts: OpenSiteOptions): Promise<DataSite> {
  if (!SITE_ID.test(opts.siteId)) {
    throw new TelemetryError('CONFIG_INVALID', 'a site id is [a-z0-9-]{2,32}', {
      evidence: { siteId: opts.siteId.slice(0, 40) },
    });
  }
  const schemaId = opts.siteId.replaceAll('-', '_');
  const logStorage =
    opts.postgres === undefined
      ? await openSqliteStorage({ dir: join(opts.dir, 'ingest-log') })
      : await openPostgresStorage(opts.postgres, { schema: `ingest_${schemaId}` });
  let storage: SiteStorage | undefined;
  let log: Log | undefined;
  let writer: BatchWriter | undefined;
  try {
    storage =
      opts.postgres === undefined
        ? await openSqliteSiteStorage({ dir: opts.dir })
        : await openPostgresSiteStorage(opts.postgres, { schema: `site_${schemaId}` });
    // The SQLite storage parses on its own thread; elsewhere a parser thread feeds storeBatch.
    writer = storage.writer ?? parseThenStore(defaultBatchParser(), storage);
    // The ingest log's origin is its key's name (c2sp.org/tlog-policy); init is idempotent.
    await initLog({
      origin: originOf(opts.logSignerKey),
      signerKey: opts.logSignerKey,
      storage: logStorage,
    });
    const onError = opts.onError ?? (() => undefined);
    log = await openLog({
      storage: logStorage,
      signerKey: opts.logSignerKey,
      ...opts.log,
      // Every stored batch waits for its entry's receipt: sequence at once (the
      // storage's group commit already batched), and each add wakes the integrator.
      sequencer: { batchDelayMs: SEQUENCE_DELAY_MS, ...opts.log?.sequencer },
      integrator: {
        ...opts.log?.integrator,
        onError: (err) => {
          onError('ingest log', err);
        },
      },
      ...(opts.witnessing === undefined ? {} : { witnessing: opts.witnessing }),
    });
    const metrics = new SiteMetrics();
    const ingest = new SiteIngest({
      siteId: opts.siteId,
      storage,
      log,
      residency: opts.residency,
      metrics,
      writer,
      ...(opts.now === undefined ? {} : { now: opts.now }),
      ...(opts.receiptTimeoutMs === undefined ? {} : { receiptTimeoutMs: opts.receiptTimeoutMs }),
    });
    const site = new DataSite({
      siteId: opts.siteId,
      storage,
      log,
      logStorage,
      ingest,
      metrics,
      writer,
    });
    // Whatever a crash left between storing and logging goes to the log first.
    await ingest.recover();
    site.every(opts.recoverIntervalMs ?? 5_000, 'recovery', () => ingest.recover(), onError);
    const retention = opts.retention;
    if (retention !== undefined) {
      site.every(
        retention.intervalMs ?? 60_000,
        'retention',
        () => ingest.retain(retention.periodMs),
        onError,
      );
    }
    return site;
  } catch (err) {
    await log?.close();
    await storage?.close();
    await logStorage.close();
    await writer?.close();
    throw err;
  }
}

/** The name of a `PRIVATE+KEY+<name>+…` key: the log origin (c2sp.org/signed-note). */
function originOf(signerKey: string): string {
  try {
    return parseSignerKey(signerKey).name;
  } catch (cause) {
    throw new TelemetryError('CONFIG_INVALID', 'the ingest log key is not a PRIVATE+KEY+… key', {
      cause,
    });
  }
}
