import { encodeBundle, decodeBase64Strict } from '@glasshouse/tlog';
import { LogError } from './errors.js';

export interface AddResult {
  readonly index: bigint;
  readonly leafHash: Uint8Array;
  /** With `wait`: the signed checkpoint covering the entry and its tlog-proof receipt. */
  readonly checkpoint?: string;
  readonly receipt?: string;
}

export interface AddBatchResult {
  readonly indices: bigint[];
  readonly checkpoint?: string;
  readonly receipts?: string[];
}

export interface AddOptions {
  /** Answer only once a signed checkpoint covers the entries (adds receipts). */
  readonly wait?: boolean;
  readonly dedup?: boolean;
}

/** A small HTTP client of the log's write API and receipts. */
export class LogClient {
  readonly #base: string;
  readonly #fetchImpl: typeof fetch;

  /**
   * `url` is the log's prefix, e.g. `http://127.0.0.1:8080/`. Writes go
   * through `options.fetch`: a signing fetch (`signedFetch` of
   * @glasshouse/httpsig) for a log that authenticates its writers.
   */
  constructor(url: string, options: { readonly fetch?: typeof fetch } = {}) {
    this.#base = url.endsWith('/') ? url : `${url}/`;
    this.#fetchImpl = options.fetch ?? fetch;
  }

  async add(entry: Uint8Array, opts: AddOptions = {}): Promise<AddResult> {
    const body = await this.#json(`add${query(opts)}`, { method: 'POST', body: entry });
    const index = uint(body.index, 'index');
    const leafHash =
      typeof body.leafHash === 'string' ? decodeBase64Strict(body.leafHash) : undefined;
    if (leafHash === undefined) throw invalid('leafHash');
    return {
      index,
      leafHash,
      ...(typeof body.checkpoint === 'string' ? { checkpoint: body.checkpoint } : {}),
      ...(typeof body.receipt === 'string' ? { receipt: body.receipt } : {}),
    };
  }

  /** Sends entries as one c2sp.org/tlog-tiles entry bundle (chunked by the caller if large). */
  async addBatch(entries: readonly Uint8Array[], opts: AddOptions = {}): Promise<AddBatchResult> {
    const body = await this.#json(`add-batch${query(opts)}`, {
      method: 'POST',
      body: encodeBundleAny(entries),
    });
    if (!Array.isArray(body.indices)) throw invalid('indices');
    const indices = (body.indices as unknown[]).map((i) => uint(i, 'indices'));
    const receipts = Array.isArray(body.receipts)
      ? (body.receipts as unknown[]).map((r) => {
          if (typeof r !== 'string') throw invalid('receipts');
          return r;
        })
      : undefined;
    return {
      indices,
      ...(typeof body.checkpoint === 'string' ? { checkpoint: body.checkpoint } : {}),
      ...(receipts === undefined ? {} : { receipts }),
    };
  }

  /**
   * A tlog-proof receipt for `index` against the latest checkpoint; with
   * `wait`, the log answers once a published checkpoint covers the index
   * (504 WAIT_TIMEOUT past its wait limit).
   */
  async receipt(index: bigint, opts: { readonly wait?: boolean } = {}): Promise<string> {
    return (
      await this.#fetch(`receipt/${index}${opts.wait === true ? '?wait=checkpoint' : ''}`)
    ).text();
  }

  async checkpoint(): Promise<string> {
    return (await this.#fetch('checkpoint')).text();
  }

  async #json(path: string, init: RequestInit): Promise<Record<string, unknown>> {
    const res = await this.#fetch(path, init);
    let body: unknown;
    try {
      body = await res.json();
    } catch (cause) {
      throw new LogError('RESPONSE_INVALID', 'the log did not answer with JSON', { cause });
    }
    if (typeof body !== 'object' || body === null) throw invalid('body');
    return body as Record<string, unknown>;
  }

  async #fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const url = new URL(path, this.#base);
    let res: Response;
    try {
      res = await this.#fetchImpl(url, init);
    } catch (cause) {
      throw new LogError('HTTP_ERROR', `cannot reach ${url.origin}`, {
        cause,
        evidence: { url: url.toString() },
      });
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      let code: unknown;
      try {
        code = (JSON.parse(text) as { code?: unknown }).code;
      } catch {
        code = undefined; // not a JSON error body; the status says enough
      }
      throw new LogError(
        'HTTP_ERROR',
        `${url.pathname}: HTTP ${res.status} ${text.slice(0, 200)}`,
        {
          evidence: {
            url: url.toString(),
            status: res.status,
            code: typeof code === 'string' ? code : null,
            retryAfter: res.headers.get('retry-after'),
          },
        },
      );
    }
    return res;
  }
}

function query(opts: AddOptions): string {
  const q = new URLSearchParams();
  if (opts.wait === true) q.set('wait', 'checkpoint');
  if (opts.dedup === true) q.set('dedup', '1');
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

/** An entry bundle of any length (the 256-entry cap is for tiles, not for batches). */
function encodeBundleAny(entries: readonly Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < entries.length; i += 256) parts.push(encodeBundle(entries.slice(i, i + 256)));
  return Buffer.concat(parts);
}

function uint(v: unknown, what: string): bigint {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid(what);
  return BigInt(v);
}

function invalid(what: string): LogError {
  return new LogError('RESPONSE_INVALID', `the log's answer has no valid ${what}`);
}
