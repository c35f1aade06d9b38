/**
 * The agent's side of the ingest router's API (issue 16): device
 * registration, and batches sent in RFC 9421 requests signed by the device
 * key (keyid = the device pseudonym), with the router's answers read through
 * a bounded reader and checked field by field.
 */
import { readBoundedBody } from '@glasshouse/http';
import { RequestSigner } from '@glasshouse/httpsig/client';
import { AgentError } from '../errors.js';

/** Router answers are small JSON documents (a receipt is a few KiB). */
const MAX_ANSWER_BYTES = 256 * 1024;
const TIMEOUT_MS = 30_000;
const CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

export type BatchAnswer =
  | { readonly status: 'stored'; readonly site: string; readonly receipt: string }
  | { readonly status: 'queued'; readonly site: string | undefined }
  | {
      readonly status: 'refused';
      readonly httpStatus: number;
      readonly code: string;
      readonly message: string;
    };

async function readJson(res: Response, url: string): Promise<Record<string, unknown>> {
  let bytes: Uint8Array;
  try {
    bytes = await readBoundedBody(res, MAX_ANSWER_BYTES);
  } catch (cause) {
    throw new AgentError('AGENT_ROUTER_ANSWER_INVALID', `${url} answered too much`, { cause });
  }
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (cause) {
    throw new AgentError('AGENT_ROUTER_ANSWER_INVALID', `${url} did not answer a JSON object`, {
      cause,
      evidence: { status: res.status },
    });
  }
}

async function send(url: string, init: RequestInit, fetchImpl: typeof fetch): Promise<Response> {
  try {
    return await fetchImpl(url, {
      ...init,
      signal: AbortSignal.timeout(TIMEOUT_MS),
      redirect: 'error',
    });
  } catch (cause) {
    throw new AgentError('AGENT_ROUTER_UNREACHABLE', `cannot reach ${url}`, { cause });
  }
}

/** A refusal `{code, message}` (a code the router did not give is HTTP_<status>). */
function refusal(status: number, body: Record<string, unknown>): { code: string; message: string } {
  const code = typeof body.code === 'string' && CODE.test(body.code) ? body.code : `HTTP_${status}`;
  const message = typeof body.message === 'string' ? body.message.slice(0, 500) : '';
  return { code, message };
}

/** POST /v1/devices with the customer-signed registration; returns the router's `d-…`. */
export async function registerDevice(
  routerUrl: string,
  envelope: string,
  fetchImpl: typeof fetch = fetch,
): Promise<string> {
  const url = new URL('v1/devices', routerUrl).href;
  const res = await send(
    url,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: envelope },
    fetchImpl,
  );
  const body = await readJson(res, url);
  if (!res.ok) {
    const { code, message } = refusal(res.status, body);
    throw new AgentError(
      'AGENT_ROUTER_REFUSED',
      `the router refused the device: ${code} ${message}`,
      {
        evidence: { status: res.status, code },
      },
    );
  }
  if (typeof body.device !== 'string') {
    throw new AgentError('AGENT_ROUTER_ANSWER_INVALID', 'the router did not name the device');
  }
  return body.device;
}

/** The request's RFC 9421 fields for the device key (signedFetch only signs writes; the poll is signed too). */
function signedHeaders(
  signer: RequestSigner,
  method: string,
  url: string,
  headers: Record<string, string>,
  body: Uint8Array,
): Headers {
  const out = new Headers(headers);
  for (const [name, value] of Object.entries(signer.sign({ method, url, headers, body })))
    out.set(name, value);
  return out;
}

function batchAnswer(status: number, body: Record<string, unknown>): BatchAnswer {
  if (
    status === 200 &&
    body.status === 'stored' &&
    typeof body.receipt === 'string' &&
    typeof body.site === 'string'
  ) {
    return { status: 'stored', site: body.site, receipt: body.receipt };
  }
  if ((status === 202 || status === 200) && body.status === 'queued') {
    return { status: 'queued', site: typeof body.site === 'string' ? body.site : undefined };
  }
  if (status >= 400) return { status: 'refused', httpStatus: status, ...refusal(status, body) };
  throw new AgentError(
    'AGENT_ROUTER_ANSWER_INVALID',
    `the router answered ${status} without a known status`,
    {
      evidence: {
        status,
        answer: typeof body.status === 'string' ? body.status.slice(0, 40) : null,
      },
    },
  );
}

/** POST /v1/batches: the exact sealed bytes, signed by the device. */
export async function postBatch(
  signer: RequestSigner,
  routerUrl: string,
  bytes: Uint8Array,
  fetchImpl: typeof fetch = fetch,
): Promise<BatchAnswer> {
  const url = new URL('v1/batches', routerUrl).href;
  const headers = signedHeaders(signer, 'POST', url, { 'content-type': 'application/json' }, bytes);
  const res = await send(url, { method: 'POST', headers, body: bytes }, fetchImpl);
  return batchAnswer(res.status, await readJson(res, url));
}

/** GET /v1/batches/<digest>: where a 202'd batch is, signed by the device that sent it. */
export async function pollBatch(
  signer: RequestSigner,
  routerUrl: string,
  digest: string,
  fetchImpl: typeof fetch = fetch,
): Promise<BatchAnswer> {
  const url = new URL(`v1/batches/${encodeURIComponent(digest)}`, routerUrl).href;
  const headers = signedHeaders(signer, 'GET', url, {}, new Uint8Array(0));
  const res = await send(url, { method: 'GET', headers }, fetchImpl);
  return batchAnswer(res.status, await readJson(res, url));
}
