/**
 * The access record (issue 17 §1): one entry of the access log, written by
 * the gateway before any data is served. Canonical JSON without a trailing
 * newline, at most 65,535 bytes (c2sp.org/tlog-tiles: entry bundles carry
 * uint16-length-prefixed entries). Pseudonyms only: no customer name, no
 * person's name.
 */
import {
  canonicalJson,
  COUNTRY_CODE,
  CUSTOMER_PSEUDONYM,
  DIGEST,
  regionOfCountry,
  sha256Digest,
  sha256Hex,
  SITE_ID,
  bytesEqual,
  type Json,
} from '@glasshouse/residency';
import { parseJsonBytes, utf8 } from './bytes.js';
import {
  array,
  exactObject,
  integer,
  matching,
  preview,
  rfc3339,
  text,
  type Fail,
} from './check.js';
import { AccessFormatError } from './errors.js';

export const ACCESS_RECORD_SCHEMA = 'glasshouse.access-record/v1';
/** c2sp.org/tlog-tiles: an entry is at most 65,535 bytes. */
export const MAX_ACCESS_RECORD_BYTES = 65_535;
/** 500 digests of 71 characters stay well under the entry limit. */
export const MAX_SCOPE_BATCHES = 500;
export const MAX_DETAIL_LENGTH = 1024;

/** A principal pseudonym: `p-` + 32 hex of SHA-256(raw Ed25519 principal key); the supervisor resolves it. */
export const PRINCIPAL_PSEUDONYM = /^p-[0-9a-f]{32}$/;
/** A data class name, e.g. `telemetry-events`, `personal-fields`; the access policy lists the known ones. */
export const DATA_CLASS = /^[a-z][a-z0-9-]{1,31}$/;
/** A ticket or legal reference: short, printable, no spaces at the ends. */
export const REFERENCE = /^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}$/;

/** The fixed list of justification codes (cloud access transparency vocabulary). */
export const JUSTIFICATION_CODES = [
  'CUSTOMER_INITIATED_SUPPORT',
  'THREAT_INVESTIGATION',
  'LEGAL_REQUEST',
  'SERVICE_OPERATION',
  'SUPERVISOR_AUDIT',
  'BREAK_GLASS',
] as const;
export type JustificationCode = (typeof JUSTIFICATION_CODES)[number];

export interface Justification {
  readonly code: JustificationCode;
  /** Free text for the reviewer. */
  readonly detail: string;
  /** The support ticket: required with CUSTOMER_INITIATED_SUPPORT, refused otherwise. */
  readonly ticket?: string;
  /** The legal reference: required with LEGAL_REQUEST, refused otherwise. */
  readonly reference?: string;
}

/** What was accessed: batches by digest (ascending, unique), or a time range [from, to). */
export type AccessScope =
  | { readonly kind: 'batches'; readonly batches: readonly string[] }
  | { readonly kind: 'time-range'; readonly from: string; readonly to: string };

export interface Accessor {
  readonly principal: string;
  /** The legal entity that employs the principal. */
  readonly entity: string;
  /** ISO 3166-1 alpha-2 of the principal's office. */
  readonly country: string;
  readonly role: string;
}

export interface AccessRecord {
  readonly schema: typeof ACCESS_RECORD_SCHEMA;
  readonly site: string;
  readonly customer: string;
  readonly dataClass: string;
  readonly scope: AccessScope;
  readonly accessor: Accessor;
  readonly justification: Justification;
  /** `sha256:<hex>` of the approval request the approvers signed, or null when none is required. */
  readonly approval: string | null;
  readonly time: string;
  /** The customer's access counter: 1 for its first access record, +1 for each next one. */
  readonly counter: number;
}

/** `p-` + first 32 hex of SHA-256(raw 32-byte Ed25519 principal key). */
export function principalPseudonym(principalKey: Uint8Array): string {
  if (principalKey.length !== 32) {
    throw new AccessFormatError(
      'ACCESS_RECORD_INVALID',
      'a principal key is a raw 32-byte Ed25519 key',
    );
  }
  return `p-${sha256Hex(principalKey).slice(0, 32)}`;
}

export function scopeJson(scope: AccessScope): Json {
  switch (scope.kind) {
    case 'batches':
      return { kind: scope.kind, batches: [...scope.batches] };
    case 'time-range':
      return { kind: scope.kind, from: scope.from, to: scope.to };
  }
}

export function accessorJson(a: Accessor): Json {
  return { principal: a.principal, entity: a.entity, country: a.country, role: a.role };
}

export function justificationJson(j: Justification): Json {
  return { code: j.code, detail: j.detail, ticket: j.ticket, reference: j.reference };
}

function recordJson(r: AccessRecord): Json {
  return {
    schema: r.schema,
    site: r.site,
    customer: r.customer,
    dataClass: r.dataClass,
    scope: scopeJson(r.scope),
    accessor: accessorJson(r.accessor),
    justification: justificationJson(r.justification),
    approval: r.approval,
    time: r.time,
    counter: r.counter,
  };
}

const invalid: Fail = (what, evidence) => {
  throw new AccessFormatError(
    'ACCESS_RECORD_INVALID',
    `access record: ${what}`,
    evidence ? { evidence } : {},
  );
};

/** The log entry bytes: canonical JSON, no trailing newline. */
export function encodeAccessRecord(record: AccessRecord): Uint8Array {
  const checked = checkAccessRecordValue(record);
  const bytes = utf8(canonicalJson(recordJson(checked)));
  if (bytes.length > MAX_ACCESS_RECORD_BYTES) {
    throw new AccessFormatError('ACCESS_RECORD_TOO_LARGE', 'access record over 65,535 bytes', {
      evidence: { size: bytes.length, max: MAX_ACCESS_RECORD_BYTES },
    });
  }
  return bytes;
}

/** Parses an access-log entry: size cap, schema, justification rules, canonical bytes. */
export function parseAccessRecord(bytes: Uint8Array): AccessRecord {
  // c2sp.org/tlog-tiles: entries are uint16-length-prefixed, so ≤ 65,535 bytes.
  if (bytes.length > MAX_ACCESS_RECORD_BYTES) {
    throw new AccessFormatError('ACCESS_RECORD_TOO_LARGE', 'access record over 65,535 bytes', {
      evidence: { size: bytes.length, max: MAX_ACCESS_RECORD_BYTES },
    });
  }
  const value = parseJsonBytes(
    bytes,
    (cause) =>
      new AccessFormatError('ACCESS_RECORD_INVALID', 'access record: not UTF-8 JSON', { cause }),
  );
  const record = checkAccessRecordValue(value);
  if (!bytesEqual(utf8(canonicalJson(recordJson(record))), bytes)) {
    invalid('the entry is not in canonical form');
  }
  return record;
}

/** `sha256:<hex>` of the exact entry bytes. */
export function accessRecordDigest(bytes: Uint8Array): string {
  return sha256Digest(bytes);
}

function checkAccessRecordValue(value: unknown): AccessRecord {
  const v = exactObject(
    value,
    'the record',
    [
      'schema',
      'site',
      'customer',
      'dataClass',
      'scope',
      'accessor',
      'justification',
      'approval',
      'time',
      'counter',
    ],
    [],
    invalid,
  );
  if (v.schema !== ACCESS_RECORD_SCHEMA)
    invalid(`schema is not ${ACCESS_RECORD_SCHEMA}`, { schema: preview(v.schema) });
  const approval = v.approval === null ? null : matching(v.approval, DIGEST, 'approval', invalid);
  return {
    schema: ACCESS_RECORD_SCHEMA,
    site: matching(v.site, SITE_ID, 'site', invalid),
    customer: matching(v.customer, CUSTOMER_PSEUDONYM, 'customer', invalid),
    dataClass: matching(v.dataClass, DATA_CLASS, 'dataClass', invalid),
    scope: checkScope(v.scope, invalid),
    accessor: checkAccessor(v.accessor, invalid),
    justification: checkJustification(v.justification, invalid),
    approval,
    time: rfc3339(v.time, 'time', invalid),
    counter: integer(v.counter, 1, 'counter', invalid),
  };
}

export function checkScope(value: unknown, fail: Fail): AccessScope {
  const kind = (value as { kind?: unknown } | null)?.kind;
  if (kind === 'batches') {
    const v = exactObject(value, 'scope', ['kind', 'batches'], [], fail);
    const batches = array(v.batches, 1, MAX_SCOPE_BATCHES, 'scope.batches', fail).map((b, i) =>
      matching(b, DIGEST, `scope.batches[${i}]`, fail),
    );
    // One encoding per scope: digests ascending and unique.
    for (let i = 1; i < batches.length; i++) {
      if ((batches[i - 1] as string) >= (batches[i] as string))
        fail('scope.batches are not ascending and unique');
    }
    return { kind, batches };
  }
  if (kind === 'time-range') {
    const v = exactObject(value, 'scope', ['kind', 'from', 'to'], [], fail);
    const from = rfc3339(v.from, 'scope.from', fail);
    const to = rfc3339(v.to, 'scope.to', fail);
    if (!(Date.parse(from) < Date.parse(to)))
      fail('scope.from is not before scope.to', { from, to });
    return { kind, from, to };
  }
  return fail('scope.kind is neither "batches" nor "time-range"', { kind: preview(kind) });
}

export function checkAccessor(value: unknown, fail: Fail): Accessor {
  const v = exactObject(value, 'accessor', ['principal', 'entity', 'country', 'role'], [], fail);
  const country = matching(v.country, COUNTRY_CODE, 'accessor.country', fail);
  try {
    regionOfCountry(country);
  } catch (cause) {
    // An unassigned ISO 3166-1 code is refused: reviewers read the country.
    fail('accessor.country is not an ISO 3166-1 country', { country, cause });
  }
  return {
    principal: matching(v.principal, PRINCIPAL_PSEUDONYM, 'accessor.principal', fail),
    entity: text(v.entity, 128, 'accessor.entity', fail),
    country,
    role: text(v.role, 64, 'accessor.role', fail),
  };
}

const justificationInvalid: Fail = (what, evidence) => {
  throw new AccessFormatError(
    'JUSTIFICATION_INVALID',
    `justification: ${what}`,
    evidence ? { evidence } : {},
  );
};

/**
 * Issue 17 §1: a code from the fixed list and free text;
 * CUSTOMER_INITIATED_SUPPORT needs a ticket, LEGAL_REQUEST a reference.
 * Shape errors use the caller's code; missing or misplaced detail is
 * JUSTIFICATION_INVALID.
 */
export function checkJustification(value: unknown, fail: Fail): Justification {
  const v = exactObject(value, 'justification', ['code', 'detail'], ['ticket', 'reference'], fail);
  const code = v.code;
  if (typeof code !== 'string' || !(JUSTIFICATION_CODES as readonly string[]).includes(code)) {
    return justificationInvalid('code is not in the fixed list', { code: preview(code) });
  }
  const detail = text(v.detail, MAX_DETAIL_LENGTH, 'justification.detail', justificationInvalid);
  const ticket =
    v.ticket === undefined
      ? undefined
      : matching(v.ticket, REFERENCE, 'ticket', justificationInvalid);
  const reference =
    v.reference === undefined
      ? undefined
      : matching(v.reference, REFERENCE, 'reference', justificationInvalid);
  if ((code === 'CUSTOMER_INITIATED_SUPPORT') !== (ticket !== undefined)) {
    justificationInvalid('a ticket goes with CUSTOMER_INITIATED_SUPPORT, and only with it', {
      code,
    });
  }
  if ((code === 'LEGAL_REQUEST') !== (reference !== undefined)) {
    justificationInvalid('a reference goes with LEGAL_REQUEST, and only with it', { code });
  }
  return { code: code as JustificationCode, detail, ticket, reference };
}
