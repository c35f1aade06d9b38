/**
 * Delivers outbox rows to the one site each was routed to: `POST
 * <ingestUrl>v1/batches` with the exact batch bytes and the policy digest,
 * signed with the router's caller key (RFC 9421). The site is idempotent by
 * batch digest, so a retry after a lost answer stores nothing twice.
 *
 * - 200 `{batch, index, receipt}`: stored (the receipt is kept for the device);
 * - a 4xx with a code other than the signature checks (e.g.
 *   `REGION_NOT_DESIGNATED_HERE`): refused for good, never sent elsewhere;
 * - anything else (network error, timeout, 5xx, 429, 409 from a site whose
 *   residency view lags, a refused signature, a malformed answer): retried
 *   with capped exponential backoff.
 */
import { readBoundedBody } from '@glasshouse/http';
import type { RequestSigner } from '@glasshouse/httpsig';
import type { OutboxRow, RouterStore } from './store.js';

export interface ForwarderOptions {
  readonly store: RouterStore;
  readonly signer: RequestSigner;
  /** Per attempt. Default 30 s (a site answers once its ingest-log entry is witnessed). */
  readonly timeoutMs?: number;
  /** First retry delay; doubles per attempt. Default 500 ms. */
  readonly backoffMs?: number;
  /** Default 60 s. */
  readonly maxBackoffMs?: number;
  /** Deliveries in flight at once. Default 8. */
  readonly concurrency?: number;
  readonly now?: () => number;
  readonly fetch?: typeof fetch;
  readonly onOutcome?: (outcome: DeliveryOutcome, row: OutboxRow) => void;
}

export type DeliveryOutcome = 'stored' | 'refused' | 'retry';

/** Largest site answer read. */
const MAX_ANSWER_BYTES = 256 * 1024;

export class Forwarder {
  readonly #store: RouterStore;
  readonly #signer: RequestSigner;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #concurrency: number;
  readonly #now: () => number;
  readonly #onOutcome: ForwarderOptions['onOutcome'];
  readonly #inFlight = new Map<string, Promise<DeliveryOutcome>>();
  #timer: NodeJS.Timeout | undefined;
  #pumping = false;
  #again = false;
  #closed = false;
  readonly #abort = new AbortController();

  constructor(opts: ForwarderOptions) {
    this.#store = opts.store;
    this.#signer = opts.signer;
    this.#fetch = opts.fetch ?? fetch;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#backoffMs = opts.backoffMs ?? 500;
    this.#maxBackoffMs = opts.maxBackoffMs ?? 60_000;
    this.#concurrency = opts.concurrency ?? 8;
    this.#now = opts.now ?? Date.now;
    this.#onOutcome = opts.onOutcome;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * One delivery attempt of `digest` now (shared with one already running).
   * `body`: the batch's bytes when the caller holds them (just enqueued),
   * so they need not be read back from the outbox.
   */
  deliver(digest: string, body?: Uint8Array): Promise<DeliveryOutcome> {
    const running = this.#inFlight.get(digest);
    if (running !== undefined) return running;
    const p = this.#attempt(digest, body).finally(() => {
      this.#inFlight.delete(digest);
      this.kick();
    });
    this.#inFlight.set(digest, p);
    return p;
  }

  /** Starts a pass over the due rows (and schedules the next one). */
  kick(): void {
    if (this.#closed) return;
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    void this.#pump().finally(() => {
      this.#pumping = false;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#abort.abort();
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  async #pump(): Promise<void> {
    const free = this.#concurrency - this.#inFlight.size;
    if (free > 0) {
      const due = this.#store
        .due(this.#now(), free + this.#inFlight.size)
        .filter((r) => !this.#inFlight.has(r.digest))
        .slice(0, free);
      for (const row of due) void this.deliver(row.digest);
    }
    this.#schedule();
    await Promise.resolve();
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const next = this.#store.nextDue();
    if (next === undefined) return;
    const wait = Math.max(10, Math.min(next - this.#now(), this.#maxBackoffMs));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.kick();
    }, wait);
    this.#timer.unref();
  }

  async #attempt(digest: string, held?: Uint8Array): Promise<DeliveryOutcome> {
    const row = this.#store.get(digest);
    const body = held ?? this.#store.body(digest);
    if (row === undefined || row.status !== 'queued' || body === undefined) {
      return row?.status === 'refused' ? 'refused' : 'stored';
    }
    const outcome = await this.#post(row, body);
    switch (outcome.kind) {
      case 'stored':
        await this.#store.markStored(digest, outcome.receipt, outcome.index);
        break;
      case 'refused':
        await this.#store.markRefused(digest, outcome.code);
        break;
      case 'retry': {
        const backoff = Math.min(this.#maxBackoffMs, this.#backoffMs * 2 ** row.attempts);
        const wait = backoff / 2 + Math.random() * (backoff / 2);
        await this.#store.markRetry(digest, outcome.error, this.#now() + Math.round(wait));
        break;
      }
    }
    this.#onOutcome?.(outcome.kind, row);
    return outcome.kind;
  }

  async #post(
    row: OutboxRow,
    body: Uint8Array,
  ): Promise<
    | { kind: 'stored'; receipt: string; index: number }
    | { kind: 'refused'; code: string }
    | { kind: 'retry'; error: string }
  > {
    const url = new URL('v1/batches', row.siteUrl).href;
    let res: Response;
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#timeoutMs)]);
    const headers = { 'content-type': 'application/json', 'glasshouse-policy': row.policy };
    // The outbox names a batch by the SHA-256 of its bytes: the Content-Digest needs no new hash.
    const signed = this.#signer.sign({
      method: 'POST',
      url,
      headers,
      body,
      sha256: Buffer.from(row.digest.slice('sha256:'.length), 'hex'),
    });
    try {
      res = await this.#fetch(url, {
        method: 'POST',
        body,
        headers: { ...headers, ...signed },
        signal,
      });
    } catch (err) {
      return { kind: 'retry', error: `${row.site} unreachable: ${describe(err)}` };
    }
    let answer: unknown;
    try {
      answer = JSON.parse(new TextDecoder().decode(await readBoundedBody(res, MAX_ANSWER_BYTES)));
    } catch (err) {
      return { kind: 'retry', error: `${row.site} HTTP ${res.status}: ${describe(err)}` };
    }
    const a = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<
      string,
      unknown
    >;
    if (res.status === 200) {
      if (
        a.batch !== row.digest ||
        typeof a.receipt !== 'string' ||
        typeof a.index !== 'number' ||
        !Number.isSafeInteger(a.index)
      ) {
        return { kind: 'retry', error: `${row.site} answered 200 without its receipt` };
      }
      return { kind: 'stored', receipt: a.receipt, index: a.index };
    }
    const code = typeof a.code === 'string' ? a.code : `HTTP_${res.status}`;
    // A refused signature is our configuration, not the batch, and 409 is a site whose
    // residency view lags ours (POLICY_UNKNOWN, CUSTOMER_NOT_ENROLLED): keep it and retry.
    const permanent =
      res.status >= 400 &&
      res.status < 500 &&
      res.status !== 409 &&
      res.status !== 429 &&
      !code.startsWith('AUTH_');
    if (permanent) return { kind: 'refused', code };
    return { kind: 'retry', error: `${row.site} HTTP ${res.status} ${code}` };
  }
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}
