/**
 * Entries of each site's ingest log: one per stored batch, one per
 * retention deletion. `checkStoredEntry` is the residency check itself,
 * run by the site before it stores and by the supervisor's monitor after.
 */
import { canonicalJson, parseJsonBytes, utf8 } from './bytes.js';
import { exactObject, matching, positiveInteger, preview, rfc3339, type Fail } from './check.js';
import { ResidencyError } from './errors.js';
import { CUSTOMER_PSEUDONYM } from './keys.js';
import { designatedSite, DIGEST, SITE_ID } from './policy.js';
import { REGION_CODE } from './regions.js';
import { MAX_BATCH_EVENTS } from './batch.js';
import type { ResidencyState } from './state.js';

export const INGEST_LOG_SCHEMA = 'glasshouse.ingest-log/v1';
/** c2sp.org/tlog-tiles: entry bundles length-prefix entries with a uint16. */
export const MAX_INGEST_LOG_ENTRY_BYTES = 65_535;
export const MAX_DELETED_PER_ENTRY = 500;

export interface StoredEntry {
  readonly schema: typeof INGEST_LOG_SCHEMA;
  readonly kind: 'stored';
  readonly site: string;
  /** Digest of the policy version the batch was routed and stored under. */
  readonly policy: string;
  readonly customer: string;
  readonly region: string;
  readonly events: number;
  /** batchDigest of the stored bytes. */
  readonly batch: string;
  readonly storedAt: string;
}

export interface DeletedEntry {
  readonly schema: typeof INGEST_LOG_SCHEMA;
  readonly kind: 'deleted';
  readonly site: string;
  /** Digests of the deleted batches, 1..500. */
  readonly batches: readonly string[];
  readonly olderThan: string;
  readonly deletedAt: string;
}

export type IngestLogEntry = StoredEntry | DeletedEntry;

const invalid: Fail = (what, evidence) => {
  throw new ResidencyError(
    'INGEST_ENTRY_INVALID',
    `ingest-log entry: ${what}`,
    evidence ? { evidence } : {},
  );
};

function entryJson(e: IngestLogEntry): Parameters<typeof canonicalJson>[0] {
  switch (e.kind) {
    case 'stored':
      return {
        schema: e.schema,
        kind: e.kind,
        site: e.site,
        policy: e.policy,
        customer: e.customer,
        region: e.region,
        events: e.events,
        batch: e.batch,
        storedAt: e.storedAt,
      };
    case 'deleted':
      return {
        schema: e.schema,
        kind: e.kind,
        site: e.site,
        batches: [...e.batches],
        olderThan: e.olderThan,
        deletedAt: e.deletedAt,
      };
  }
}

/** Canonical JSON bytes of an entry (no trailing newline). */
export function encodeIngestLogEntry(entry: IngestLogEntry): Uint8Array {
  checkEntryValue(entryJson(entry));
  const bytes = utf8(canonicalJson(entryJson(entry)));
  if (bytes.length > MAX_INGEST_LOG_ENTRY_BYTES) {
    invalid('over the size limit', { size: bytes.length, max: MAX_INGEST_LOG_ENTRY_BYTES });
  }
  return bytes;
}

/** Parses an entry: size cap, schema, kind and every field; canonical bytes. */
export function parseIngestLogEntry(bytes: Uint8Array): IngestLogEntry {
  if (bytes.length > MAX_INGEST_LOG_ENTRY_BYTES) {
    invalid('over the size limit', { size: bytes.length, max: MAX_INGEST_LOG_ENTRY_BYTES });
  }
  const { value, text } = parseJsonBytes(
    bytes,
    (cause) =>
      new ResidencyError('INGEST_ENTRY_INVALID', 'ingest-log entry: not UTF-8 JSON', { cause }),
  );
  const entry = checkEntryValue(value);
  if (text !== canonicalJson(entryJson(entry))) invalid('not in canonical form');
  return entry;
}

function checkEntryValue(value: unknown): IngestLogEntry {
  const kind = (value as { kind?: unknown } | null)?.kind;
  switch (kind) {
    case 'stored': {
      const v = exactObject(
        value,
        'the entry',
        ['schema', 'kind', 'site', 'policy', 'customer', 'region', 'events', 'batch', 'storedAt'],
        [],
        invalid,
      );
      checkSchema(v.schema);
      const events = positiveInteger(v.events, 'events', invalid);
      if (events > MAX_BATCH_EVENTS) invalid('events is over the batch limit', { events });
      return {
        schema: INGEST_LOG_SCHEMA,
        kind: 'stored',
        site: matching(v.site, SITE_ID, 'site', invalid),
        policy: matching(v.policy, DIGEST, 'policy', invalid),
        customer: matching(v.customer, CUSTOMER_PSEUDONYM, 'customer', invalid),
        region: matching(v.region, REGION_CODE, 'region', invalid),
        events,
        batch: matching(v.batch, DIGEST, 'batch', invalid),
        storedAt: rfc3339(v.storedAt, 'storedAt', invalid),
      };
    }
    case 'deleted': {
      const v = exactObject(
        value,
        'the entry',
        ['schema', 'kind', 'site', 'batches', 'olderThan', 'deletedAt'],
        [],
        invalid,
      );
      checkSchema(v.schema);
      if (
        !Array.isArray(v.batches) ||
        v.batches.length === 0 ||
        v.batches.length > MAX_DELETED_PER_ENTRY
      ) {
        invalid(`batches is not an array of 1..${MAX_DELETED_PER_ENTRY}`);
      }
      const batches = (v.batches as unknown[]).map((b, i) =>
        matching(b, DIGEST, `batches[${i}]`, invalid),
      );
      if (new Set(batches).size !== batches.length) invalid('a batch is listed twice');
      return {
        schema: INGEST_LOG_SCHEMA,
        kind: 'deleted',
        site: matching(v.site, SITE_ID, 'site', invalid),
        batches,
        olderThan: rfc3339(v.olderThan, 'olderThan', invalid),
        deletedAt: rfc3339(v.deletedAt, 'deletedAt', invalid),
      };
    }
    default:
      return invalid('kind is neither "stored" nor "deleted"', { kind: preview(kind) });
  }
}

function checkSchema(schema: unknown): void {
  if (schema !== INGEST_LOG_SCHEMA)
    invalid(`schema is not ${INGEST_LOG_SCHEMA}`, { schema: preview(schema) });
}

export interface CheckStoredOptions {
  /**
   * Accept the entry when ANY logged enrollment of the customer (not only
   * the latest) names its region. For a monitor re-checking old entries
   * after a customer re-enrolled; a site storing now uses the default.
   */
  readonly anyEnrollment?: boolean;
}

/**
 * The residency check of one stored batch against the residency log:
 * 1. the policy it names is a logged version (POLICY_UNKNOWN);
 * 2. that version designates the entry's region to this site
 *    (REGION_NOT_DESIGNATED_HERE);
 * 3. the customer's logged enrollment is in the entry's region
 *    (ENROLLMENT_MISMATCH).
 * Errors carry the entry and what the log says, as evidence.
 */
export function checkStoredEntry(
  state: ResidencyState,
  siteId: string,
  entry: StoredEntry,
  options: CheckStoredOptions = {},
): void {
  const evidence = { entry: { ...entry }, siteId };
  if (entry.site !== siteId) {
    throw new ResidencyError(
      'INGEST_ENTRY_INVALID',
      "the entry names another site than the log's",
      {
        evidence,
      },
    );
  }
  // Issue 16 §5 / §10: only a logged policy version steers data.
  const logged = state.loggedPolicy(entry.policy);
  if (logged === undefined) {
    throw new ResidencyError(
      'POLICY_UNKNOWN',
      'the entry names a policy version that is not in the residency log',
      {
        evidence,
      },
    );
  }
  let designated: string | undefined;
  try {
    designated = designatedSite(logged.policy, entry.region).id;
  } catch (cause) {
    if (!(cause instanceof ResidencyError)) throw cause;
    designated = undefined;
  }
  if (designated !== siteId) {
    throw new ResidencyError(
      'REGION_NOT_DESIGNATED_HERE',
      'the policy does not designate this site for the region',
      {
        evidence: {
          ...evidence,
          designated: designated ?? null,
          policyVersion: logged.policy.version,
          policyIndex: logged.index.toString(),
        },
      },
    );
  }
  // Issue 16 §2: the customer's region is the logged enrollment's, not what the batch claims.
  const history = options.anyEnrollment
    ? state.enrollmentHistory(entry.customer)
    : [state.enrollment(entry.customer)].filter((e) => e !== undefined);
  if (!history.some((e) => e.enrollment.region === entry.region)) {
    const latest = state.enrollment(entry.customer);
    throw new ResidencyError(
      'ENROLLMENT_MISMATCH',
      "the customer's logged enrollment is not in the entry's region",
      {
        evidence: {
          ...evidence,
          enrolledRegion: latest?.enrollment.region ?? null,
          enrollmentIndex: latest?.index.toString() ?? null,
        },
      },
    );
  }
}
