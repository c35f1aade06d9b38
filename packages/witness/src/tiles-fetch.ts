/**
 * A production client of the c2sp.org/tlog-tiles read API: the checkpoint,
 * hash tiles and entry bundles, with bounded response sizes, per-attempt
 * timeouts, retries with backoff on transient failures, gzip (decoded by
 * `fetch`, counted after decoding so a compression bomb stops at the limit)
 * and the spec's partial-to-full tile fallback.
 *
 * Nothing fetched here is trusted: callers verify checkpoints against keys
 * and tiles against signed roots.
 */
import {
  DEFAULT_MAX_NOTE_SIZE,
  HASH_SIZE,
  MAX_ENTRY_SIZE,
  TILE_WIDTH,
  type TileRef,
  TlogError,
  decodeBundle,
  tilePath,
} from '@glasshouse/tlog';
import { WitnessError, type WitnessErrorCode } from './errors.js';

export interface TilesFetcherOptions {
  /** The log's prefix; tile paths are resolved against it (a missing final `/` is added). */
  readonly url: string;
  /** Injected for tests; defaults to the global `fetch`. It must decode `Content-Encoding`. */
  readonly fetch?: typeof fetch;
  /** Per attempt, headers and body included. Default 15 s. */
  readonly timeoutMs?: number;
  /** Further attempts after a network error, timeout, 5xx or 429. Default 3. */
  readonly retries?: number;
  /** First backoff; doubles each attempt, with jitter, capped at `maxBackoffMs`. Default 250 ms. */
  readonly backoffMs?: number;
  /** Default 5 s; also caps a `Retry-After` the server asks for. */
  readonly maxBackoffMs?: number;
  /** Largest checkpoint accepted. Default 1 MiB (the signed-note default). */
  readonly maxCheckpointBytes?: number;
}

/** What a fetched tile or bundle was read from. */
export interface Fetched {
  /** The path the caller asked for (at the requested width). */
  readonly path: string;
  /** True when the partial resource was gone and the full one was cut down. */
  readonly fromFull: boolean;
}

export interface FetchedTile extends Fetched {
  /** Exactly `width × 32` bytes. */
  readonly data: Uint8Array;
}

export interface FetchedBundle extends Fetched {
  /** Exactly `width` entries. */
  readonly entries: Uint8Array[];
  /** The encoded bundle of those entries, byte for byte as served. */
  readonly data: Uint8Array;
}

// c2sp.org/tlog-tiles: a full tile is 256 hashes, 8,192 bytes.
const MAX_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
// c2sp.org/tlog-tiles: at most 256 entries of at most 65,535 bytes, each with a uint16 prefix.
const MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_ENTRY_SIZE);

/** Fetches tlog-tiles resources from one log prefix. Stateless apart from its options. */
export class TilesFetcher {
  readonly url: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #maxCheckpointBytes: number;

  constructor(opts: TilesFetcherOptions) {
    let base: URL;
    try {
      base = new URL(opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
    } catch (cause) {
      throw new WitnessError('MONITOR_CONFIG_INVALID', 'the log URL does not parse', {
        cause,
        evidence: { url: opts.url.slice(0, 200) },
      });
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new WitnessError('MONITOR_CONFIG_INVALID', 'the log URL must be http or https', {
        evidence: { url: opts.url.slice(0, 200) },
      });
    }
    this.url = base.href;
    this.#fetch = opts.fetch ?? fetch;
    this.#timeoutMs = opts.timeoutMs ?? 15_000;
    this.#retries = opts.retries ?? 3;
    this.#backoffMs = opts.backoffMs ?? 250;
    this.#maxBackoffMs = opts.maxBackoffMs ?? 5_000;
    this.#maxCheckpointBytes = opts.maxCheckpointBytes ?? DEFAULT_MAX_NOTE_SIZE;
  }

  /** c2sp.org/tlog-tiles: `<prefix>/checkpoint`, as served (unverified bytes). */
  checkpoint(signal?: AbortSignal): Promise<Uint8Array> {
    return this.#getRequired('checkpoint', this.#maxCheckpointBytes, signal);
  }

  /**
   * Hash tile (`level`, `index`) at `width`. c2sp.org/tlog-tiles: a client
   * MAY fall back to the full tile when a partial one is no longer served;
   * the full tile is then cut to its first `width` hashes.
   */
  async hashTile(
    level: number,
    index: bigint,
    width: number,
    signal?: AbortSignal,
  ): Promise<FetchedTile> {
    const ref: TileRef = { kind: 'hash', level, index, width };
    const path = tilePath(ref);
    const want = width * HASH_SIZE;
    const partial = await this.#get(path, MAX_TILE_BYTES, signal);
    if (partial !== null) {
      checkTileLength(path, partial, want);
      return { path, fromFull: false, data: partial };
    }
    if (width === TILE_WIDTH) throw notFound(this.url, path);
    const fullPath = tilePath({ ...ref, width: TILE_WIDTH });
    const full = await this.#getRequired(fullPath, MAX_TILE_BYTES, signal);
    checkTileLength(fullPath, full, MAX_TILE_BYTES);
    return { path, fromFull: true, data: full.slice(0, want) };
  }

  /** Entry bundle `index` at `width`, decoded; same fallback as `hashTile`. */
  async entryBundle(index: bigint, width: number, signal?: AbortSignal): Promise<FetchedBundle> {
    const ref: TileRef = { kind: 'entries', index, width };
    const path = tilePath(ref);
    const partial = await this.#get(path, MAX_BUNDLE_BYTES, signal);
    if (partial !== null) {
      const entries = decode(path, partial);
      // c2sp.org/tlog-tiles: a bundle holds exactly the entries of its level-0 tile.
      if (entries.length !== width) throw wrongCount(path, entries.length, width);
      return { path, fromFull: false, entries, data: partial };
    }
    if (width === TILE_WIDTH) throw notFound(this.url, path);
    const fullPath = tilePath({ ...ref, width: TILE_WIDTH });
    const full = await this.#getRequired(fullPath, MAX_BUNDLE_BYTES, signal);
    const all = decode(fullPath, full);
    if (all.length !== TILE_WIDTH) throw wrongCount(fullPath, all.length, TILE_WIDTH);
    const entries = all.slice(0, width);
    let length = 0;
    for (const e of entries) length += 2 + e.length;
    return { path, fromFull: true, entries, data: full.slice(0, length) };
  }

  async #getRequired(path: string, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
    const data = await this.#get(path, maxBytes, signal);
    if (data === null) throw notFound(this.url, path);
    return data;
  }

  /** GET with retries; null on 404 (the caller decides whether that is an error). */
  async #get(path: string, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array | null> {
    const url = new URL(path, this.url).href;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const outcome = await this.#attempt(url, maxBytes, signal);
      if (outcome.ok) return outcome.data;
      if (!outcome.retry || attempt >= this.#retries) {
        throw new WitnessError(outcome.code, `GET ${url}: ${outcome.reason}`, {
          cause: outcome.cause,
          evidence: { url, attempts: attempt + 1, ...outcome.evidence },
        });
      }
      // Exponential backoff with jitter, or the server's Retry-After, both capped.
      const backoff = Math.min(this.#maxBackoffMs, this.#backoffMs * 2 ** attempt);
      const wait =
        outcome.retryAfterMs !== undefined
          ? Math.min(this.#maxBackoffMs, outcome.retryAfterMs)
          : backoff / 2 + Math.random() * (backoff / 2);
      await sleep(wait, signal);
    }
  }

  async #attempt(url: string, maxBytes: number, outer?: AbortSignal): Promise<AttemptOutcome> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = outer === undefined ? timeout : AbortSignal.any([outer, timeout]);
    let res: Response;
    try {
      res = await this.#fetch(url, {
        signal,
        redirect: 'follow',
        // c2sp.org/tlog-tiles: clients SHOULD include gzip and identity.
        headers: { 'accept-encoding': 'gzip, identity' },
      });
    } catch (cause) {
      if (outer?.aborted === true) throw outer.reason;
      return transient(cause, timeout.aborted ? 'timed out' : 'network error', {});
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return { ok: true, data: null };
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      const evidence = { status: res.status };
      if (res.status >= 500 || res.status === 429) {
        return {
          ...transient(undefined, `HTTP ${res.status}`, evidence),
          retryAfterMs: retryAfter(res.headers.get('retry-after')),
        };
      }
      return {
        ok: false,
        retry: false,
        code: 'FETCH_FAILED',
        reason: `HTTP ${res.status}`,
        evidence,
      };
    }
    try {
      return { ok: true, data: await readLimited(res, maxBytes) };
    } catch (cause) {
      if (cause instanceof WitnessError) {
        return { ok: false, retry: false, code: cause.code, reason: cause.message, cause };
      }
      if (outer?.aborted === true) throw outer.reason;
      return transient(cause, timeout.aborted ? 'timed out reading the body' : 'body failed', {});
    }
  }
}

type AttemptOutcome =
  | { ok: true; data: Uint8Array | null }
  | {
      ok: false;
      retry: boolean;
      code: WitnessErrorCode;
      reason: string;
      cause?: unknown;
      evidence?: Record<string, unknown>;
      retryAfterMs?: number | undefined;
    };

type AttemptFailure = Extract<AttemptOutcome, { ok: false }>;

function transient(
  cause: unknown,
  reason: string,
  evidence: Record<string, unknown>,
): AttemptFailure {
  return { ok: false, retry: true, code: 'FETCH_FAILED', reason, cause, evidence };
}

/** Reads the (already decoded) body, refusing more than `maxBytes`. */
async function readLimited(res: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  // Content-Length counts encoded bytes; only an identity body can be refused early.
  if (res.headers.get('content-encoding') === null && declared > maxBytes) {
    await res.body?.cancel();
    throw tooLarge(res.url, maxBytes);
  }
  if (res.body === null) return new Uint8Array(0);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(res.url, maxBytes);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function retryAfter(header: string | null): number | undefined {
  // RFC 9110 §10.2.3: delay-seconds (HTTP-dates are not worth honouring here).
  if (header === null || !/^[0-9]{1,6}$/.test(header)) return undefined;
  return Number(header) * 1000;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function decode(path: string, data: Uint8Array): Uint8Array[] {
  try {
    return decodeBundle(data);
  } catch (cause) {
    if (cause instanceof TlogError) {
      throw new WitnessError('TILE_MALFORMED', `${path} is not an entry bundle`, {
        cause,
        evidence: { path, length: data.length },
      });
    }
    throw cause;
  }
}

function checkTileLength(path: string, data: Uint8Array, want: number): void {
  // c2sp.org/tlog-tiles: a tile is exactly its width in 32-byte hashes.
  if (data.length !== want) {
    throw new WitnessError('TILE_MALFORMED', `${path} is ${data.length} bytes, want ${want}`, {
      evidence: { path, length: data.length, want },
    });
  }
}

function wrongCount(path: string, count: number, width: number): WitnessError {
  return new WitnessError('TILE_MALFORMED', `${path} holds ${count} entries, want ${width}`, {
    evidence: { path, entries: count, want: width },
  });
}

function notFound(base: string, path: string): WitnessError {
  return new WitnessError('FETCH_NOT_FOUND', `${path} is not served by ${base}`, {
    evidence: { url: new URL(path, base).href, status: 404 },
  });
}

function tooLarge(url: string, maxBytes: number): WitnessError {
  return new WitnessError('FETCH_TOO_LARGE', `${url} is larger than ${maxBytes} bytes`, {
    evidence: { url, maxBytes },
  });
}
