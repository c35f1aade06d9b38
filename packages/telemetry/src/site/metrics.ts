import { Counter, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one data site (its own registry, so sites in one process never share). */
export class SiteMetrics {
  readonly registry = new Registry();
  readonly batchesStored: Counter<'region'>;
  readonly eventsStored: Counter<'region'>;
  readonly batchesDeleted: Counter;
  readonly refused: Counter<'code'>;
  readonly ackLatency: Histogram;
  readonly lookups: Counter<'kind'>;
  readonly reads: Counter;

  constructor() {
    const registers = [this.registry];
    this.batchesStored = new Counter({
      name: 'glasshouse_site_batches_stored_total',
      help: 'Batches stored by this process (re-sent batches not counted again), by region',
      labelNames: ['region'],
      registers,
    });
    this.eventsStored = new Counter({
      name: 'glasshouse_site_events_stored_total',
      help: 'Events stored by this process, by region',
      labelNames: ['region'],
      registers,
    });
    this.batchesDeleted = new Counter({
      name: 'glasshouse_site_batches_deleted_total',
      help: 'Batches whose events retention deleted',
      registers,
    });
    this.refused = new Counter({
      name: 'glasshouse_site_batches_refused_total',
      help: 'Batch POSTs answered with an error, by code',
      labelNames: ['code'],
      registers,
    });
    this.ackLatency = new Histogram({
      name: 'glasshouse_site_ack_seconds',
      help: 'Time from a batch POST to its receipt',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.lookups = new Counter({
      name: 'glasshouse_site_reputation_hashes_total',
      help: 'Hashes looked up, by kind (single or batch)',
      labelNames: ['kind'],
      registers,
    });
    this.reads = new Counter({
      name: 'glasshouse_site_gateway_reads_total',
      help: 'Reads of stored batches by the access gateway',
      registers,
    });
  }

  stored(region: string, events: number): void {
    this.batchesStored.inc({ region });
    this.eventsStored.inc({ region }, events);
  }

  deleted(batches: number): void {
    this.batchesDeleted.inc(batches);
  }
}
