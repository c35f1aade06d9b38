import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one log. Each log has its own registry, so several
 * logs (or tests) in one process never share counters.
 */
export class LogMetrics {
  readonly registry = new Registry();
  readonly entriesSequenced: Counter;
  readonly treeSize: Gauge;
  readonly queueDepth: Gauge;
  readonly addLatency: Histogram;
  readonly integrationLatency: Histogram;
  readonly checkpointsSigned: Counter;
  readonly integrationErrors: Counter;
  readonly signedSize: Gauge;
  readonly checkpointsPublished: Counter;
  readonly publishFailures: Counter;
  readonly witnessCosignedSize: Gauge<'witness'>;
  readonly witnessFailures: Counter<'witness' | 'reason'>;
  readonly quorumMet: Gauge;
  readonly #age: Gauge;
  #lastCheckpointAt: number | undefined;
  #lastSize: bigint | undefined;

  constructor() {
    const registers = [this.registry];
    this.entriesSequenced = new Counter({
      name: 'glasshouse_log_entries_sequenced_total',
      help: 'Entries durably sequenced and acknowledged by this process (dedup hits included)',
      registers,
    });
    this.treeSize = new Gauge({
      name: 'glasshouse_log_entries_integrated',
      help: 'Tree size of the latest published checkpoint this process has seen',
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'glasshouse_log_sequencer_queue_depth',
      help: 'Entries waiting to be sequenced',
      registers,
    });
    this.addLatency = new Histogram({
      name: 'glasshouse_log_add_duration_seconds',
      help: 'From an entry entering the sequencer to it being durably sequenced',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.integrationLatency = new Histogram({
      name: 'glasshouse_log_integration_duration_seconds',
      help: 'Duration of one integration round (read entries, write tiles, check, sign, store)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.checkpointsSigned = new Counter({
      name: 'glasshouse_log_checkpoints_signed_total',
      help: 'Checkpoints signed and stored by this process',
      registers,
    });
    this.integrationErrors = new Counter({
      name: 'glasshouse_log_integration_errors_total',
      help: 'Integration rounds that failed or refused to sign',
      registers,
    });
    this.signedSize = new Gauge({
      name: 'glasshouse_log_entries_signed',
      help: 'Tree size of the latest checkpoint this process signed (published or not yet)',
      registers,
    });
    this.checkpointsPublished = new Counter({
      name: 'glasshouse_log_checkpoints_published_total',
      help: 'Signed checkpoints published at /checkpoint by this process',
      registers,
    });
    this.publishFailures = new Counter({
      name: 'glasshouse_log_publish_failures_total',
      help: 'Publishing attempts that published nothing (e.g. witness quorum not met)',
      registers,
    });
    this.witnessCosignedSize = new Gauge({
      name: 'glasshouse_log_witness_cosigned_size',
      help: 'Tree size each witness last cosigned (or reported), as far as this process knows',
      labelNames: ['witness'],
      registers,
    });
    this.witnessFailures = new Counter({
      name: 'glasshouse_log_witness_failures_total',
      help: 'add-checkpoint requests that brought no valid cosignature, by witness and reason',
      labelNames: ['witness', 'reason'],
      registers,
    });
    this.quorumMet = new Gauge({
      name: 'glasshouse_log_witness_quorum_met',
      help: "1 if the last witnessing attempt met the policy's quorum, else 0",
      registers,
    });
    this.#age = new Gauge({
      name: 'glasshouse_log_checkpoint_age_seconds',
      help: 'Seconds since the tree size of the served checkpoint last changed (as seen by this process)',
      registers,
    });
  }

  /** Records the size of the checkpoint currently served. */
  observeCheckpoint(size: bigint, now = Date.now()): void {
    if (this.#lastSize !== size) {
      this.#lastSize = size;
      this.#lastCheckpointAt = now;
      this.treeSize.set(Number(size));
    }
  }

  /** The exposition text; the checkpoint age is computed at scrape time. */
  async metricsText(now = Date.now()): Promise<string> {
    if (this.#lastCheckpointAt !== undefined) {
      this.#age.set((now - this.#lastCheckpointAt) / 1000);
    }
    return this.registry.metrics();
  }
}
