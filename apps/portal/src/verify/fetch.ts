/**
 * Reading the services' public endpoints (through the portal's same-origin
 * proxy). Bytes only: nothing read here is trusted until a check verifies it.
 */
import { CodedError } from '@glasshouse/errors';

/** The largest response the portal reads (a full tile is 8 KiB; TUF metadata and attestations are small). */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export type Fetcher = (url: string) => Promise<Response>;

export async function fetchBytes(url: string, fetcher: Fetcher = fetch): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetcher(url);
  } catch (err) {
    throw new CodedError('PORTAL_FETCH_FAILED', `could not reach ${url}`, { cause: err });
  }
  if (!res.ok) {
    const text = (await res.text()).slice(0, 200);
    throw new CodedError('PORTAL_FETCH_FAILED', `${url} answered ${res.status}: ${text}`);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > MAX_RESPONSE_BYTES) {
    throw new CodedError('PORTAL_RESPONSE_TOO_LARGE', `${url} sent ${bytes.length} bytes`);
  }
  return bytes;
}

/** Like fetchBytes, but null when the server answers 404 (a file that does not exist yet). */
export async function fetchBytesIfPresent(
  url: string,
  fetcher: Fetcher = fetch,
): Promise<Uint8Array | null> {
  const seen = { status: 0 };
  const bytes = await fetchBytes(url, async (u) => {
    const res = await fetcher(u);
    seen.status = res.status;
    return res.status === 404 ? new Response(new Uint8Array()) : res;
  });
  return seen.status === 404 ? null : bytes;
}

export async function fetchText(url: string, fetcher: Fetcher = fetch): Promise<string> {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(await fetchBytes(url, fetcher));
  } catch (err) {
    if (err instanceof TypeError) {
      throw new CodedError('PORTAL_NOT_UTF8', `${url} is not UTF-8`, { cause: err });
    }
    throw err;
  }
}

export async function fetchJson(url: string, fetcher: Fetcher = fetch): Promise<unknown> {
  const text = await fetchText(url, fetcher);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CodedError('PORTAL_NOT_JSON', `${url} is not JSON`, { cause: err });
  }
}
