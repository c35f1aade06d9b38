/**
 * Nonces seen inside the freshness window (RFC 9421 §7.2.2: a `nonce`
 * parameter lets a verifier refuse replays). Bounded: when the cache is
 * full of live nonces it refuses new ones (`AUTH_REPLAY_CACHE_FULL`) rather
 * than forget one that could be replayed. Time is an argument.
 */
import { HttpSigError } from './errors.js';

export interface ReplayCacheOptions {
  /** Most nonces remembered at once. Default 100,000. */
  readonly maxEntries?: number;
}

export class ReplayCache {
  readonly maxEntries: number;
  /** `keyid NUL nonce` → the unix second after which the nonce cannot be replayed anyway. */
  readonly #seen = new Map<string, number>();

  constructor(options: ReplayCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) {
      throw new HttpSigError('AUTH_OPTION_INVALID', 'maxEntries must be a positive integer');
    }
  }

  get size(): number {
    return this.#seen.size;
  }

  /**
   * Records `nonce` of `keyid`, remembered until `forgetAfter` (unix
   * seconds: `created` plus the window, when the signature turns stale).
   * Throws `AUTH_SIGNATURE_REPLAYED` when it was seen and is still live.
   */
  record(keyid: string, nonce: string, forgetAfter: number, now: number): void {
    const key = `${keyid}\0${nonce}`;
    const until = this.#seen.get(key);
    if (until !== undefined && until >= now) {
      throw new HttpSigError('AUTH_SIGNATURE_REPLAYED', 'this signature was already used', {
        evidence: { keyid, nonce },
      });
    }
    if (this.#seen.size >= this.maxEntries) this.#sweep(now);
    if (this.#seen.size >= this.maxEntries) {
      throw new HttpSigError('AUTH_REPLAY_CACHE_FULL', 'too many recent signatures; retry shortly');
    }
    this.#seen.delete(key);
    this.#seen.set(key, forgetAfter);
  }

  #sweep(now: number): void {
    for (const [key, until] of this.#seen) if (until < now) this.#seen.delete(key);
  }
}
