/**
 * Entries of the residency log: one JSON object per entry carrying a
 * policy version or an enrollment, each as its DSSE envelope object.
 * Parsing checks the shape only; ResidencyState checks signatures and order.
 */
import { canonicalJson, parseJsonBytes, utf8 } from './bytes.js';
import { exactObject, preview, type Fail } from './check.js';
import { checkEnvelope, envelopeJson, type DsseEnvelope } from './dsse.js';
import { ENROLLMENT_PAYLOAD_TYPE, MAX_ENROLLMENT_BYTES } from './enrollment.js';
import { ResidencyError } from './errors.js';
import { MAX_POLICY_BYTES, POLICY_PAYLOAD_TYPE } from './policy.js';

export const RESIDENCY_LOG_SCHEMA = 'glasshouse.residency-log/v1';
/** c2sp.org/tlog-tiles: entry bundles length-prefix entries with a uint16. */
export const MAX_RESIDENCY_LOG_ENTRY_BYTES = 65_535;

export type ResidencyLogEntry =
  | {
      readonly schema: typeof RESIDENCY_LOG_SCHEMA;
      readonly kind: 'policy';
      readonly envelope: DsseEnvelope;
    }
  | {
      readonly schema: typeof RESIDENCY_LOG_SCHEMA;
      readonly kind: 'enrollment';
      readonly envelope: DsseEnvelope;
    };

const invalid: Fail = (what, evidence) => {
  throw new ResidencyError(
    'RESIDENCY_ENTRY_INVALID',
    `residency-log entry: ${what}`,
    evidence ? { evidence } : {},
  );
};

function entryJson(entry: ResidencyLogEntry): Parameters<typeof canonicalJson>[0] {
  return { schema: entry.schema, kind: entry.kind, envelope: envelopeJson(entry.envelope) };
}

/** Canonical JSON bytes of an entry (no trailing newline); RESIDENCY_ENTRY_INVALID when over 65,535 bytes. */
export function encodeResidencyLogEntry(entry: ResidencyLogEntry): Uint8Array {
  checkEntryValue(entryJson(entry));
  const bytes = utf8(canonicalJson(entryJson(entry)));
  if (bytes.length > MAX_RESIDENCY_LOG_ENTRY_BYTES) {
    invalid('over the size limit', { size: bytes.length, max: MAX_RESIDENCY_LOG_ENTRY_BYTES });
  }
  return bytes;
}

/** Parses an entry: size cap, schema, kind, the envelope's shape and payload type; canonical bytes. */
export function parseResidencyLogEntry(bytes: Uint8Array): ResidencyLogEntry {
  if (bytes.length > MAX_RESIDENCY_LOG_ENTRY_BYTES) {
    invalid('over the size limit', { size: bytes.length, max: MAX_RESIDENCY_LOG_ENTRY_BYTES });
  }
  const { value, text } = parseJsonBytes(
    bytes,
    (cause) =>
      new ResidencyError('RESIDENCY_ENTRY_INVALID', 'residency-log entry: not UTF-8 JSON', {
        cause,
      }),
  );
  const entry = checkEntryValue(value);
  // One encoding per entry, so two logs carrying the same fact carry the same bytes.
  if (text !== canonicalJson(entryJson(entry))) invalid('not in canonical form');
  return entry;
}

function checkEntryValue(value: unknown): ResidencyLogEntry {
  const v = exactObject(value, 'the entry', ['schema', 'kind', 'envelope'], [], invalid);
  if (v.schema !== RESIDENCY_LOG_SCHEMA)
    invalid(`schema is not ${RESIDENCY_LOG_SCHEMA}`, { schema: preview(v.schema) });
  switch (v.kind) {
    case 'policy': {
      const { envelope } = checkEnvelope(
        v.envelope,
        POLICY_PAYLOAD_TYPE,
        'RESIDENCY_ENTRY_INVALID',
        MAX_POLICY_BYTES,
      );
      return { schema: RESIDENCY_LOG_SCHEMA, kind: 'policy', envelope };
    }
    case 'enrollment': {
      const { envelope } = checkEnvelope(
        v.envelope,
        ENROLLMENT_PAYLOAD_TYPE,
        'RESIDENCY_ENTRY_INVALID',
        MAX_ENROLLMENT_BYTES,
      );
      return { schema: RESIDENCY_LOG_SCHEMA, kind: 'enrollment', envelope };
    }
    default:
      return invalid('kind is neither "policy" nor "enrollment"', { kind: preview(v.kind) });
  }
}
