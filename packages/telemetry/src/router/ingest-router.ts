/**
 * The ingest router as one object: its verified residency view, its durable
 * store (device registry + outbox), the forwarder, and the decisions of
 * `router.ts` and `enroll.ts`. `serve` puts it behind HTTP.
 */
import type { KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { keepAliveFetch } from '@glasshouse/http';
import { LogClient } from '@glasshouse/log';
import {
  RateLimiter,
  type RateLimitOptions,
  ReplayCache,
  RequestSigner,
  ed25519PrivateKey,
  ed25519PublicKey,
  rawPublicKey,
  signedFetch,
} from '@glasshouse/httpsig';
import { fromBase64 } from '@glasshouse/residency';
import { TelemetryError } from '../errors.js';
import type { ResidencyView } from '../view/view.js';
import { type Enrolled, enroll } from './enroll.js';
import { Forwarder } from './forwarder.js';
import { registerDevice, routeBatch } from './router.js';
import {
  type BatchAnswer,
  type RouterMetrics,
  buildRouterServer,
  routerMetrics,
} from './server.js';
import { type DeviceRow, type OutboxRow, RouterStore } from './store.js';

export interface IngestRouterOptions {
  /** The verified residency view (opened by the caller; the router refreshes it). */
  readonly view: ResidencyView;
  /** The router's data directory (`router.db`). */
  readonly dir: string;
  /** The router's caller key (Ed25519 seed): it signs deliveries to sites and residency-log writes. */
  readonly callerKey: Uint8Array;
  /** Key id of the caller key as the sites and the log list it; default the RFC 7638 thumbprint. */
  readonly callerKeyId?: string;
  /** The residency log's write prefix (where `add` is), for enrollments. */
  readonly residencyLogUrl: string;
  /** The vendor's residency signing key (Ed25519 seed): it co-signs enrollments. */
  readonly vendorResidencyKey: Uint8Array;
  /** How long `POST /v1/batches` waits for the site before answering 202 queued. Default 10 s. */
  readonly ackWaitMs?: number;
  /** How long an enrollment waits for its witnessed checkpoint. Default 30 s. */
  readonly enrollTimeoutMs?: number;
  /** Seconds a request signature's `created` may be from the router's clock. Default 60. */
  readonly windowSeconds?: number;
  /** Per-device limit on signed requests (batches and status reads). Default burst 60, 30 a second. */
  readonly deviceRateLimit?: RateLimitOptions;
  readonly forwarder?: {
    readonly timeoutMs?: number;
    readonly backoffMs?: number;
    readonly maxBackoffMs?: number;
    readonly concurrency?: number;
  };
  readonly now?: () => number;
  /** The fetch of its calls to the residency log and the sites (default keepAliveFetch). */
  readonly fetch?: typeof fetch;
}

export type { BatchAnswer };

/** An agent sends a batch every few seconds; this leaves room for a backlog after an outage. */
const DEVICE_RATE_LIMIT: RateLimitOptions = { burst: 60, perSecond: 30 };

export class IngestRouter {
  readonly view: ResidencyView;
  readonly store: RouterStore;
  readonly forwarder: Forwarder;
  readonly replay = new ReplayCache();
  readonly metrics: RouterMetrics = routerMetrics();
  readonly windowSeconds: number;
  readonly now: () => number;
  readonly deviceLimit: RateLimiter;
  readonly #log: LogClient;
  readonly #vendorSeed: Uint8Array;
  readonly #vendorPublic: Uint8Array;
  readonly #ackWaitMs: number;
  readonly #enrollTimeoutMs: number;
  readonly #deviceKeys = new Map<string, KeyObject>();
  #app: FastifyInstance | undefined;
  #closed = false;

  private constructor(opts: IngestRouterOptions, store: RouterStore) {
    this.view = opts.view;
    this.store = store;
    this.now = opts.now ?? Date.now;
    this.windowSeconds = opts.windowSeconds ?? 60;
    this.deviceLimit = new RateLimiter(opts.deviceRateLimit ?? DEVICE_RATE_LIMIT);
    this.#ackWaitMs = opts.ackWaitMs ?? 10_000;
    this.#enrollTimeoutMs = opts.enrollTimeoutMs ?? 30_000;
    const signer = new RequestSigner({
      privateKey: ed25519PrivateKey(opts.callerKey),
      ...(opts.callerKeyId === undefined ? {} : { keyid: opts.callerKeyId }),
      now: this.now,
    });
    // Calls between services over node:http keep-alive: a quarter of global fetch's CPU a call.
    const fetchImpl = opts.fetch ?? keepAliveFetch();
    this.#log = new LogClient(opts.residencyLogUrl, {
      fetch: signedFetch(signer, fetchImpl),
    });
    this.#vendorSeed = opts.vendorResidencyKey;
    this.#vendorPublic = rawPublicKey(ed25519PrivateKey(opts.vendorResidencyKey));
    this.forwarder = new Forwarder({
      store,
      signer,
      ...opts.forwarder,
      now: this.now,
      fetch: fetchImpl,
      onOutcome: (outcome, row) => {
        this.metrics.delivered.inc({ outcome, site: row.site });
      },
    });
    for (const d of store.devices()) this.#remember(d);
  }

  /** Opens the store; queued batches are delivered again from here on. */
  static open(opts: IngestRouterOptions): IngestRouter {
    const store = RouterStore.open(opts.dir);
    try {
      const router = new IngestRouter(opts, store);
      // The router acts on what its view verified: keep it following the log.
      opts.view.start();
      router.forwarder.kick();
      return router;
    } catch (err) {
      store.close();
      throw err;
    }
  }

  /** The device's public key if it is registered (the allow-list of batch senders). */
  deviceKey(device: string): KeyObject | undefined {
    return this.#deviceKeys.get(device);
  }

  enroll(text: string): Promise<Enrolled> {
    return enroll(
      {
        view: this.view,
        log: this.#log,
        vendorSeed: this.#vendorSeed,
        vendorPublicKey: this.#vendorPublic,
        timeoutMs: this.#enrollTimeoutMs,
      },
      text,
    );
  }

  async registerDevice(text: string): Promise<DeviceRow> {
    const row = await registerDevice({ view: this.view, store: this.store }, text);
    this.#remember(row);
    return row;
  }

  /**
   * Routes a batch of an authenticated device, commits it to the outbox
   * (the acknowledgement point), then tries its site for up to `ackWaitMs`.
   * `sha256`: the bytes' SHA-256 when the caller checked it (a signed Content-Digest).
   */
  async acceptBatch(
    device: DeviceRow,
    bytes: Uint8Array,
    sha256?: Uint8Array,
  ): Promise<BatchAnswer> {
    if (this.#closed) throw new TelemetryError('CLOSED', 'the router is closing');
    const { row } = await routeBatch(
      { view: this.view, store: this.store, forwarder: this.forwarder, now: this.now },
      device,
      bytes,
      sha256,
    );
    if (row.status === 'queued') {
      const delivery = this.forwarder.deliver(row.digest, bytes);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#ackWaitMs);
      });
      await Promise.race([delivery.then(() => undefined), timeout]);
      clearTimeout(timer);
    }
    return this.answerOf(this.store.get(row.digest) ?? row);
  }

  answerOf(row: OutboxRow): BatchAnswer {
    return {
      batch: row.digest,
      site: row.site,
      status: row.status,
      ...(row.receipt === null ? {} : { receipt: row.receipt }),
      ...(row.siteIndex === null ? {} : { index: row.siteIndex }),
      ...(row.refusal === null ? {} : { code: row.refusal }),
    };
  }

  /** Serves the HTTP API; returns its URL. */
  async listen(host = '127.0.0.1', port = 0): Promise<string> {
    this.#app ??= buildRouterServer(this);
    return this.#app.listen({ host, port });
  }

  get app(): FastifyInstance {
    this.#app ??= buildRouterServer(this);
    return this.#app;
  }

  /** Stops serving and delivering; the outbox keeps what is queued. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#app?.close();
    await this.forwarder.close();
    this.store.close();
  }

  #remember(d: DeviceRow): void {
    const raw = fromBase64(d.deviceKey);
    if (raw?.length === 32) this.#deviceKeys.set(d.device, ed25519PublicKey(raw));
  }
}
