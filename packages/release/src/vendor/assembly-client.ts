/**
 * A small HTTP client of the assembly line's API, for the CLI and for the
 * supervisor. Every failure is a CodedError: the server's own code when it
 * sent one, ASSEMBLY_UNREACHABLE or ASSEMBLY_BAD_RESPONSE otherwise.
 */
import { CodedError, hasCode } from '@glasshouse/errors';
import { readBoundedBody } from '@glasshouse/http';
import type { PublicKeyInfo, ReleaseRecord } from '@glasshouse/release-format';
import { ReleaseError } from '../errors.js';

export interface BuilderKeyInfo {
  builderId: string;
  keyid: string;
  publicKeyPem: string;
  keyDict: Record<string, unknown>;
  sandbox: { kind: string; version?: string };
}

/** Bounds on what the client reads. */
const MAX_JSON_RESPONSE = 16 * 1024 * 1024;
const MAX_BYTES_RESPONSE = 1024 * 1024 * 1024;
const MAX_NDJSON_LINE = 1024 * 1024;

export class AssemblyClient {
  readonly baseUrl: string;
  readonly #fetchImpl: typeof fetch;

  /** Writes go through `options.fetch`: a signing fetch (`signedFetch` of @glasshouse/httpsig). */
  constructor(baseUrl: string, options: { readonly fetch?: typeof fetch } = {}) {
    this.#fetchImpl = options.fetch ?? fetch;
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch (cause) {
      throw new ReleaseError('ASSEMBLY_BAD_REQUEST', `not a URL: ${baseUrl}`, { cause });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ReleaseError('ASSEMBLY_BAD_REQUEST', 'the assembly URL must be http or https');
    }
    this.baseUrl = url.href.replace(/\/+$/, '');
  }

  builderKey(): Promise<BuilderKeyInfo> {
    return this.#json<BuilderKeyInfo>('GET', '/builder-key');
  }

  /** The key release layouts are signed with (pin it out of band; this is only a convenience). */
  layoutKey(): Promise<PublicKeyInfo> {
    return this.#json<PublicKeyInfo>('GET', '/layout-key');
  }

  /** The signed in-toto layout of an approved release (ASSEMBLY_NOT_APPROVED before). */
  layout(id: string): Promise<Uint8Array> {
    return this.#bytes(`/releases/${encodeURIComponent(id)}/layout`);
  }

  async listReleases(): Promise<ReleaseRecord[]> {
    return (await this.#json<{ releases: ReleaseRecord[] }>('GET', '/releases')).releases;
  }

  getRelease(id: string): Promise<ReleaseRecord> {
    return this.#json<ReleaseRecord>('GET', `/releases/${encodeURIComponent(id)}`);
  }

  artifact(id: string, name: string): Promise<Uint8Array> {
    const path = name.split('/').map(encodeURIComponent).join('/');
    return this.#bytes(`/releases/${encodeURIComponent(id)}/artifacts/${path}`);
  }

  attestation(id: string, sha256: string): Promise<Uint8Array> {
    return this.#bytes(
      `/releases/${encodeURIComponent(id)}/attestations/${encodeURIComponent(sha256)}`,
    );
  }

  /** Uploads `{kind, envelope}` or `{kind: 'link', metablock}`; returns the updated record. */
  addAttestation(id: string, body: Record<string, unknown>): Promise<ReleaseRecord> {
    return this.#json<ReleaseRecord>(
      'POST',
      `/releases/${encodeURIComponent(id)}/attestations`,
      body,
    );
  }

  /**
   * POST /releases: builds `commit` of `source`, passing each progress line
   * to `onProgress`; resolves with the record or throws the build's coded error.
   */
  async build(
    source: string,
    commit: string,
    onProgress: (message: string) => void = () => undefined,
  ): Promise<ReleaseRecord> {
    const res = await this.#fetch('POST', '/releases', { source, commit });
    if (!res.ok) throw await this.#errorOf(res);
    if (res.body === null) throw badResponse('the build response has no body');
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let buffered = '';
    let outcome: { release?: ReleaseRecord; error?: { code: string; message: string } } | undefined;
    const handle = (text: string): void => {
      if (text === '') return;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw badResponse('a progress line is not JSON');
      }
      const v = value as Record<string, unknown>;
      if (typeof v.progress === 'string') onProgress(v.progress);
      else if (typeof v.release === 'object' && v.release !== null)
        outcome = { release: v.release as ReleaseRecord };
      else if (isErrorBody(v.error)) outcome = { error: v.error };
      else throw badResponse('an unexpected line in the build stream');
    };
    try {
      for await (const chunk of res.body) {
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          handle(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
        }
        if (buffered.length > MAX_NDJSON_LINE)
          throw badResponse('a line of the build stream is too long');
      }
      handle(buffered + decoder.decode());
    } catch (cause) {
      if (cause instanceof CodedError) throw cause;
      throw new ReleaseError('ASSEMBLY_UNREACHABLE', 'the build stream broke off', { cause });
    }
    if (outcome?.error !== undefined) {
      throw new CodedError(outcome.error.code, outcome.error.message);
    }
    if (outcome?.release === undefined)
      throw badResponse('the build stream ended without a result');
    return outcome.release;
  }

  async #fetch(method: string, path: string, body?: unknown): Promise<Response> {
    try {
      return await this.#fetchImpl(this.baseUrl + path, {
        method,
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
    } catch (cause) {
      throw new ReleaseError('ASSEMBLY_UNREACHABLE', `cannot reach ${this.baseUrl}`, { cause });
    }
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.#fetch(method, path, body);
    if (!res.ok) throw await this.#errorOf(res);
    const bytes = await readBounded(res, MAX_JSON_RESPONSE);
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
    } catch (cause) {
      throw new ReleaseError('ASSEMBLY_BAD_RESPONSE', 'the response is not JSON', { cause });
    }
  }

  async #bytes(path: string): Promise<Uint8Array> {
    const res = await this.#fetch('GET', path);
    if (!res.ok) throw await this.#errorOf(res);
    return readBounded(res, MAX_BYTES_RESPONSE);
  }

  async #errorOf(res: Response): Promise<CodedError> {
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(await readBounded(res, 64 * 1024)).toString('utf8'));
    } catch {
      value = undefined;
    }
    if (isErrorBody(value))
      return new CodedError(value.code, value.message, { evidence: { status: res.status } });
    return badResponse(`HTTP ${res.status} without a coded reason`);
  }
}

function isErrorBody(value: unknown): value is { code: string; message: string } {
  const v = value as { code?: unknown; message?: unknown } | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.code === 'string' &&
    typeof v.message === 'string'
  );
}

function badResponse(message: string): ReleaseError {
  return new ReleaseError('ASSEMBLY_BAD_RESPONSE', message);
}

async function readBounded(res: Response, max: number): Promise<Uint8Array> {
  try {
    return await readBoundedBody(res, max);
  } catch (cause) {
    if (!hasCode(cause, 'BODY_TOO_LARGE')) throw cause;
    throw badResponse(`the response is larger than ${max} bytes`);
  }
}
