/**
 * The monitor's `ApprovalSource` over the approvals API (served by the
 * gateway; its GET routes are public): `GET /v1/requests/<digest>` gives the
 * request's exact bytes (base64) and the approval envelopes filed for it,
 * `GET /v1/break-glass/<record digest>` the break-glass access and its
 * review. Nothing is trusted: the monitor verifies every signature and that
 * the request is the one the record names (`checkAccess`).
 */
import { readBoundedBody } from '@glasshouse/http';
import { decodeBase64Strict } from '@glasshouse/tlog';
import { AccessError } from '../errors.js';
import type { ApprovalSource } from './monitor.js';

const MAX_ANSWER_BYTES = 1024 * 1024;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export interface HttpApprovalSourceOptions {
  /** The approvals API's base URL (the gateway's). */
  readonly url: string;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

export function httpApprovalSource(opts: HttpApprovalSourceOptions): ApprovalSource {
  const base = opts.url.endsWith('/') ? opts.url : `${opts.url}/`;
  const get = async (path: string): Promise<Record<string, unknown> | null> => {
    const url = new URL(path, base).href;
    let res: Response;
    let body: Uint8Array;
    try {
      res = await (opts.fetch ?? fetch)(url, {
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
      body = await readBoundedBody(res, MAX_ANSWER_BYTES);
    } catch (cause) {
      throw new AccessError('APPROVALS_UNREACHABLE', `cannot read ${url}`, {
        cause,
        evidence: { url },
      });
    }
    if (res.status === 404) return null;
    const bad = (why: string): AccessError =>
      new AccessError('APPROVALS_UNREACHABLE', `the approvals API: ${why}`, {
        evidence: { url, status: res.status },
      });
    if (res.status !== 200) throw bad(`answered ${res.status}`);
    try {
      const v = JSON.parse(new TextDecoder().decode(body)) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not an object');
      return v as Record<string, unknown>;
    } catch (err) {
      if (err instanceof AccessError) throw err;
      throw bad('not JSON');
    }
  };
  return {
    async approvals(digest) {
      if (!DIGEST.test(digest)) return null;
      const v = await get(`v1/requests/${digest}`);
      if (v === null) return null;
      const request = typeof v.request === 'string' ? decodeBase64Strict(v.request) : undefined;
      const approvals = Array.isArray(v.approvals) ? (v.approvals as unknown[]) : undefined;
      if (request === undefined || approvals?.some((a) => typeof a !== 'string') !== false) {
        throw new AccessError(
          'APPROVALS_UNREACHABLE',
          'the approvals API: a request without its bytes',
        );
      }
      return { request, approvals: approvals as string[] };
    },
    async reviews(recordDigest) {
      if (!DIGEST.test(recordDigest)) return [];
      const v = await get(`v1/break-glass/${recordDigest}`);
      const review = v?.review as { envelope?: unknown } | null | undefined;
      return typeof review?.envelope === 'string' ? [review.envelope] : [];
    },
  };
}
