/**
 * Per-client token buckets: each client may make `burst` requests at once
 * and `perSecond` more every second. Bounded memory: at most `maxClients`
 * buckets, the least recently seen forgotten first (a forgotten client
 * starts again with a full bucket). Time is an argument (milliseconds).
 */
import { HttpSigError } from './errors.js';

export interface RateLimitOptions {
  readonly burst: number;
  readonly perSecond: number;
  /** Most clients tracked. Default 10,000. */
  readonly maxClients?: number;
}

export type RateDecision =
  { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly burst: number;
  readonly perSecond: number;
  readonly maxClients: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: RateLimitOptions) {
    this.burst = options.burst;
    this.perSecond = options.perSecond;
    this.maxClients = options.maxClients ?? 10_000;
    if (!(this.burst >= 1) || !(this.perSecond > 0) || !(this.maxClients >= 1)) {
      throw new HttpSigError('AUTH_OPTION_INVALID', 'burst ≥ 1, perSecond > 0, maxClients ≥ 1');
    }
  }

  /** Takes one token for `client` at `nowMs`. */
  take(client: string, nowMs: number): RateDecision {
    const bucket = this.#buckets.get(client) ?? { tokens: this.burst, at: nowMs };
    this.#buckets.delete(client); // re-inserted last: the map is in least-recent order
    const elapsed = Math.max(0, nowMs - bucket.at) / 1000;
    bucket.tokens = Math.min(this.burst, bucket.tokens + elapsed * this.perSecond);
    bucket.at = nowMs;
    let decision: RateDecision;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      decision = { allowed: true };
    } else {
      const wait = (1 - bucket.tokens) / this.perSecond;
      decision = { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(wait)) };
    }
    this.#buckets.set(client, bucket);
    while (this.#buckets.size > this.maxClients) {
      const oldest = this.#buckets.keys().next();
      if (oldest.done === true) break;
      this.#buckets.delete(oldest.value);
    }
    return decision;
  }

  get clients(): number {
    return this.#buckets.size;
  }
}
