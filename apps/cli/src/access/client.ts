/**
 * A client of the gateway's API as the CLI and `start`'s demo use it: file
 * an access request (signed with the principal's key, RFC 9421), sign and
 * file an approver's decision (DSSE over the request or break-glass record
 * digest), and ask for an access. A refusal is a CodedError with the
 * gateway's code.
 */
import type { KeyObject } from 'node:crypto';
import {
  ACCESS_REQUEST_SCHEMA,
  APPROVAL_SCHEMA,
  approvalEnvelope,
  approvalSigningMessage,
  encodeAccessRequest,
  encodeApproval,
  principalPseudonym,
  type AccessScope,
  type Justification,
} from '@glasshouse/access-format';
import { CodedError } from '@glasshouse/errors';
import { rawPublicKey } from '@glasshouse/httpsig';
import { keyId, signEd25519 } from '@glasshouse/residency';
import { signingFetch } from '../callers.js';
import { UsageError } from '../io.js';

/** RFC 3339 UTC, whole seconds (the formats' times). */
export const isoSeconds = (ms: number): string =>
  new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A call to the gateway: its JSON answer, or a CodedError with its code. */
export async function callGateway(
  gateway: string,
  path: string,
  init: RequestInit = {},
  f: typeof fetch = fetch,
): Promise<Record<string, unknown>> {
  const url = new URL(path, gateway.endsWith('/') ? gateway : `${gateway}/`).toString();
  let res: Response;
  try {
    res = await f(url, { ...init, signal: AbortSignal.timeout(30_000) });
  } catch (cause) {
    throw new UsageError(`cannot reach ${url}`, { cause });
  }
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { message: text.slice(0, 200) }; // not JSON: shown as the message
  }
  if (!res.ok) {
    const code = typeof body.code === 'string' ? body.code : `HTTP_${res.status}`;
    throw new CodedError(code, `${code}: ${typeof body.message === 'string' ? body.message : ''}`);
  }
  return body;
}

const postJson = (body: Uint8Array | string): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: typeof body === 'string' ? body : Buffer.from(body),
});

/** What a principal asks for: the site, customer, class, scope and why. */
export interface AccessTarget {
  readonly site: string;
  readonly customer: string;
  readonly dataClass: string;
  readonly scope: AccessScope;
  readonly justification: Justification;
}

/** The principal as registered: its key and the accessor fields the registry holds for it. */
export interface PrincipalIdentity {
  readonly key: KeyObject;
  readonly entity: string;
  readonly country: string;
  readonly role: string;
}

/** Files an access request signed with the principal's key; returns its digest and status. */
export async function fileAccessRequest(
  gateway: string,
  principal: PrincipalIdentity,
  target: AccessTarget,
  expiresInSeconds: number,
): Promise<{ digest: string; status: string }> {
  const now = Date.now();
  const bytes = encodeAccessRequest({
    schema: ACCESS_REQUEST_SCHEMA,
    ...target,
    accessor: {
      principal: principalPseudonym(rawPublicKey(principal.key)),
      entity: principal.entity,
      country: principal.country,
      role: principal.role,
    },
    requestedAt: isoSeconds(now),
    expiresAt: isoSeconds(now + expiresInSeconds * 1000),
  });
  const body = await callGateway(
    gateway,
    'v1/requests',
    postJson(bytes),
    signingFetch(principal.key),
  );
  return { digest: String(body.digest), status: String(body.status) };
}

/**
 * An approver's decision over `digest` (a request, or with `breakGlass` a
 * break-glass record: the supervisor's review), signed with its Ed25519
 * key (DSSE) and filed at the gateway; returns the decision it recorded.
 */
export async function fileDecision(
  gateway: string,
  d: {
    readonly key: KeyObject;
    readonly digest: string;
    readonly role: 'customer' | 'supervisor';
    readonly decision: 'approve' | 'deny';
    readonly validSeconds: number;
    readonly breakGlass?: boolean;
  },
): Promise<string> {
  const seed = new Uint8Array(Buffer.from(d.key.export({ format: 'jwk' }).d ?? '', 'base64url'));
  const now = Date.now();
  const payload = encodeApproval({
    schema: APPROVAL_SCHEMA,
    request: d.digest,
    role: d.role,
    decision: d.decision,
    decidedAt: isoSeconds(now),
    expiresAt: isoSeconds(now + d.validSeconds * 1000),
  });
  const envelope = approvalEnvelope(payload, {
    keyid: keyId(rawPublicKey(d.key)),
    sig: signEd25519(seed, approvalSigningMessage(payload)),
  });
  const path =
    d.breakGlass === true
      ? `v1/break-glass/${d.digest}/review`
      : `v1/requests/${d.digest}/decisions`;
  return String((await callGateway(gateway, path, postJson(envelope))).decision);
}

/** The gateway's answer to an access (the record, its index and receipt, the data). */
export interface AccessServed {
  readonly record: string;
  readonly digest: string;
  readonly index: number;
  readonly receipt: string;
  readonly breakGlass: boolean;
  readonly batches: readonly { digest: string; events: readonly unknown[] }[];
}

/** Asks the gateway for an access, signed with the principal's key. */
export async function requestAccess(
  gateway: string,
  key: KeyObject,
  target: AccessTarget & { readonly approval?: string },
): Promise<AccessServed> {
  const body = await callGateway(
    gateway,
    'v1/access',
    postJson(JSON.stringify(target)),
    signingFetch(key),
  );
  return body as unknown as AccessServed;
}
