// Over 500 lines: one client of c2sp.org/tlog-tiles, with its two transports, retries and bundle parsing side by side.
/**
 * A production client of the c2sp.org/tlog-tiles read API: the checkpoint,
 * hash tiles and entry bundles, with bounded response sizes, per-attempt
 * timeouts, retries with backoff on transient failures, gzip (counted after
 * decoding, so a compression bomb stops at the limit) and the spec's
 * partial-to-full tile fallback.
 *
 * Requests go through `node:http`/`node:https` with keep-alive connections
 * (a catch-up makes two requests per 256 entries, so per-request overhead
 * matters); a gzip body is decoded in one call, an identity body not at all.
 * An injected `fetch` replaces that transport (it must decode
 * `Content-Encoding` itself).
 *
 * Nothing fetched here is trusted: callers verify checkpoints against keys
 * and tiles against signed roots.
 */
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { gunzipSync } from 'node:zlib';
import {
  DEFAULT_MAX_NOTE_SIZE,
  HASH_SIZE,
  MAX_ENTRY_SIZE,
  TILE_WIDTH,
  type TileRef,
  tilePath,
} from '@glasshouse/tlog';
import { hasCode } from '@glasshouse/errors';
import { readBoundedBody, readCapped } from '@glasshouse/http';
import { WitnessError, type WitnessErrorCode } from './errors.js';

export interface TilesFetcherOptions {
  /** The log's prefix; tile paths are resolved against it (a missing final `/` is added). */
  readonly url: string;
  /** Replaces the built-in `node:http(s)` transport; it must decode `Content-Encoding`. */
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
  /** Exactly `width` entries: views into `data`, made on first access. */
  readonly entries: readonly Uint8Array[];
  /** The encoded bundle of those entries, byte for byte as served. */
  readonly data: Uint8Array;
  /** Entry `i` is `data[starts[i], ends[i])` (its length prefix excluded). */
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
}

// c2sp.org/tlog-tiles: a full tile is 256 hashes, 8,192 bytes.
const MAX_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
// c2sp.org/tlog-tiles: at most 256 entries of at most 65,535 bytes, each with a uint16 prefix.
const MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_ENTRY_SIZE);
/** Redirects followed per attempt (`fetch` follows up to 20; a log needs a few at most). */
const MAX_REDIRECTS = 5;
/** Keep-alive connections per fetcher and scheme. */
const MAX_SOCKETS = 16;

/** Fetches tlog-tiles resources from one log prefix. Stateless apart from its options. */
export class TilesFetcher {
  readonly url: string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #maxCheckpointBytes: number;
  readonly #fetch: typeof fetch | undefined;
  #agents: { http: HttpAgent; https: HttpsAgent } | undefined;

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
    this.#fetch = opts.fetch;
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
      // c2sp.org/tlog-tiles: a bundle holds exactly the entries of its level-0 tile.
      return new Bundle(path, false, partial, splitBundle(path, partial, width));
    }
    if (width === TILE_WIDTH) throw notFound(this.url, path);
    const fullPath = tilePath({ ...ref, width: TILE_WIDTH });
    const full = await this.#getRequired(fullPath, MAX_BUNDLE_BYTES, signal);
    const split = splitBundle(fullPath, full, TILE_WIDTH);
    // The first `width` entries, prefixes included, are the partial bundle.
    const length = split.ends[width - 1] ?? 0;
    const cut = { starts: split.starts.slice(0, width), ends: split.ends.slice(0, width) };
    return new Bundle(path, true, full.slice(0, length), cut);
  }

  /** Closes idle keep-alive connections (they never keep the process alive). */
  close(): void {
    this.#agents?.http.destroy();
    this.#agents?.https.destroy();
    this.#agents = undefined;
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

  #attempt(url: string, maxBytes: number, outer?: AbortSignal): Promise<AttemptOutcome> {
    if (this.#fetch !== undefined) return this.#attemptFetch(this.#fetch, url, maxBytes, outer);
    return this.#attemptNode(url, maxBytes, outer, 0);
  }

  /** One GET through node:http(s); follows redirects within the attempt. */
  #attemptNode(
    url: string,
    maxBytes: number,
    outer: AbortSignal | undefined,
    redirects: number,
  ): Promise<AttemptOutcome> {
    return new Promise<AttemptOutcome>((resolve, reject) => {
      const target = new URL(url);
      const https = target.protocol === 'https:';
      this.#agents ??= {
        http: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
        https: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
      };
      let settled = false;
      let timedOut = false;
      let reading = false;
      const settle = (outcome: AttemptOutcome | Promise<AttemptOutcome>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        outer?.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      const failed = (cause: unknown): void => {
        if (settled) return;
        if (outer?.aborted === true) {
          settled = true;
          clearTimeout(timer);
          reject(outer.reason as Error);
          return;
        }
        const reason = reading
          ? timedOut
            ? 'timed out reading the body'
            : 'body failed'
          : timedOut
            ? 'timed out'
            : 'network error';
        settle(transient(cause, reason, {}));
      };
      const options = {
        method: 'GET',
        agent: https ? this.#agents.https : this.#agents.http,
        // c2sp.org/tlog-tiles: clients SHOULD include gzip and identity.
        headers: { 'accept-encoding': 'gzip, identity' },
      };
      const req = (https ? httpsRequest : httpRequest)(target, options, (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          res.destroy();
          const location = res.headers.location;
          if (REDIRECTS.has(status) && location !== undefined) {
            settle(this.#redirect(url, location, maxBytes, outer, redirects));
          } else {
            settle(statusOutcome(status, headerOf(res, 'retry-after')));
          }
          return;
        }
        reading = true;
        readBody(res, url, maxBytes).then(
          (data) => {
            settle({ ok: true, data });
          },
          (cause: unknown) => {
            if (cause instanceof WitnessError) {
              res.destroy();
              settle({ ok: false, retry: false, code: cause.code, reason: cause.message, cause });
            } else {
              failed(cause);
            }
          },
        );
      });
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy(new Error(`no complete answer within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      const onAbort = (): void => {
        req.destroy(outer?.reason as Error);
      };
      if (outer?.aborted === true) onAbort();
      else outer?.addEventListener('abort', onAbort, { once: true });
      req.on('error', failed);
      req.end();
    });
  }

  #redirect(
    from: string,
    location: string,
    maxBytes: number,
    outer: AbortSignal | undefined,
    redirects: number,
  ): Promise<AttemptOutcome> | AttemptOutcome {
    let next: URL | undefined;
    try {
      next = new URL(location, from);
    } catch {
      next = undefined;
    }
    if (next === undefined || (next.protocol !== 'http:' && next.protocol !== 'https:')) {
      return {
        ok: false,
        retry: false,
        code: 'FETCH_FAILED',
        reason: 'a redirect to a non-http(s) URL',
      };
    }
    if (redirects >= MAX_REDIRECTS) {
      return { ok: false, retry: false, code: 'FETCH_FAILED', reason: 'too many redirects' };
    }
    return this.#attemptNode(next.href, maxBytes, outer, redirects + 1);
  }

  async #attemptFetch(
    fetchImpl: typeof fetch,
    url: string,
    maxBytes: number,
    outer?: AbortSignal,
  ): Promise<AttemptOutcome> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = outer === undefined ? timeout : AbortSignal.any([outer, timeout]);
    let res: Response;
    try {
      res = await fetchImpl(url, {
        signal,
        redirect: 'follow',
        // c2sp.org/tlog-tiles: clients SHOULD include gzip and identity.
        headers: { 'accept-encoding': 'gzip, identity' },
      });
    } catch (cause) {
      if (outer?.aborted === true) throw outer.reason;
      return transient(cause, timeout.aborted ? 'timed out' : 'network error', {});
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      return statusOutcome(res.status, res.headers.get('retry-after'));
    }
    try {
      return { ok: true, data: await readBoundedBody(res, maxBytes) };
    } catch (cause) {
      if (hasCode(cause, 'BODY_TOO_LARGE')) {
        const err = tooLarge(res.url, maxBytes);
        return { ok: false, retry: false, code: err.code, reason: err.message, cause };
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

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** What a status other than 200 means: 404 is "absent", 5xx and 429 are worth retrying. */
function statusOutcome(status: number, retryAfterHeader: string | null): AttemptOutcome {
  if (status === 404) return { ok: true, data: null };
  const evidence = { status };
  if (status >= 500 || status === 429) {
    return {
      ...transient(undefined, `HTTP ${status}`, evidence),
      retryAfterMs: retryAfter(retryAfterHeader),
    };
  }
  return { ok: false, retry: false, code: 'FETCH_FAILED', reason: `HTTP ${status}`, evidence };
}

function headerOf(res: IncomingMessage, name: string): string | null {
  const value = res.headers[name];
  return typeof value === 'string' ? value : null;
}

/**
 * Reads a 200 body from node:http, refusing more than `maxBytes` after
 * decoding. A gzip body may be a little larger than what it decodes to
 * (block headers), so its raw bytes are capped slightly above `maxBytes`
 * and the decoder stops at `maxBytes`.
 */
async function readBody(res: IncomingMessage, url: string, maxBytes: number): Promise<Uint8Array> {
  const encoding = (headerOf(res, 'content-encoding') ?? 'identity').trim().toLowerCase();
  const gzip = encoding === 'gzip' || encoding === 'x-gzip';
  if (!gzip && encoding !== 'identity') {
    throw new WitnessError('FETCH_FAILED', `${url} came with Content-Encoding ${encoding}`, {
      evidence: { url, contentEncoding: encoding.slice(0, 40) },
    });
  }
  const declared = Number(headerOf(res, 'content-length') ?? NaN);
  const rawLimit = gzip ? maxBytes + (maxBytes >> 6) + 1024 : maxBytes;
  if (declared > rawLimit) throw tooLarge(url, maxBytes);
  const raw = await readCapped(res, rawLimit).catch((cause: unknown) => {
    throw hasCode(cause, 'BODY_TOO_LARGE') ? tooLarge(url, maxBytes) : cause;
  });
  if (!gzip) return raw;
  try {
    return gunzipSync(raw, { maxOutputLength: maxBytes });
  } catch (cause) {
    if ((cause as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE')
      throw tooLarge(url, maxBytes);
    throw cause;
  }
}

function transient(
  cause: unknown,
  reason: string,
  evidence: Record<string, unknown>,
): AttemptFailure {
  return { ok: false, retry: true, code: 'FETCH_FAILED', reason, cause, evidence };
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

/** A decoded bundle; `entries` are views into `data`, made only when asked for. */
class Bundle implements FetchedBundle {
  #entries: Uint8Array[] | undefined;

  constructor(
    readonly path: string,
    readonly fromFull: boolean,
    readonly data: Uint8Array,
    bounds: { starts: Uint32Array; ends: Uint32Array },
  ) {
    this.starts = bounds.starts;
    this.ends = bounds.ends;
  }

  readonly starts: Uint32Array;
  readonly ends: Uint32Array;

  get entries(): readonly Uint8Array[] {
    this.#entries ??= Array.from(this.starts, (start, i) =>
      this.data.subarray(start, this.ends[i]),
    );
    return this.#entries;
  }
}

/**
 * c2sp.org/tlog-tiles entry bundle: entries, each after a big-endian uint16
 * length. Finds where each entry lies without copying it; refuses a
 * truncated length or entry and any count other than `width`.
 */
function splitBundle(
  path: string,
  data: Uint8Array,
  width: number,
): { starts: Uint32Array; ends: Uint32Array } {
  const starts = new Uint32Array(width);
  const ends = new Uint32Array(width);
  const malformed = (why: string, evidence: Record<string, unknown>): WitnessError =>
    new WitnessError('TILE_MALFORMED', `${path} is not an entry bundle: ${why}`, {
      evidence: { path, length: data.length, ...evidence },
    });
  let count = 0;
  let at = 0;
  while (at < data.length) {
    if (count >= width) {
      throw new WitnessError('TILE_MALFORMED', `${path} holds more than ${width} entries`, {
        evidence: { path, want: width },
      });
    }
    if (data.length - at < 2) {
      throw malformed(`it ends inside the length of entry ${count}`, { entry: count, offset: at });
    }
    const length = ((data[at] as number) << 8) | (data[at + 1] as number);
    at += 2;
    if (data.length - at < length) {
      throw malformed(`it ends inside entry ${count}`, {
        entry: count,
        offset: at,
        entryLength: length,
      });
    }
    starts[count] = at;
    at += length;
    ends[count] = at;
    count++;
  }
  if (count !== width) throw wrongCount(path, count, width);
  return { starts, ends };
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
