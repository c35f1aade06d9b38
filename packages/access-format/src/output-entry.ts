/**
 * The output-log entry of the verifiable index (vindex README
 * "Constructing" 5: "the root hash is written as a new leaf into the Output
 * Log, along with the checkpoint from the Input Log that was consumed to
 * create this revision"). Canonical JSON without a trailing newline, a
 * c2sp.org/tlog-tiles entry (≤ 65,535 bytes; these are ~200).
 */
import { bytesEqual, canonicalJson, fromBase64, toBase64, type Json } from '@glasshouse/residency';
import { parseJsonBytes, utf8 } from './bytes.js';
import { exactObject, integer, matching, preview, type Fail } from './check.js';
import { AccessFormatError } from './errors.js';
import { HASH_BYTES } from './index-hash.js';

export const OUTPUT_ENTRY_SCHEMA = 'glasshouse.access-index/v1';
export const MAX_OUTPUT_ENTRY_BYTES = 1024;
/** c2sp.org/tlog-checkpoint: the origin line, printable, no spaces. */
export const ORIGIN = /^[\x21-\x7e]{1,255}$/;

export interface OutputLogEntry {
  readonly schema: typeof OUTPUT_ENTRY_SCHEMA;
  /** Origin of the input log (the access log's checkpoint origin line). */
  readonly log: string;
  /** The input-log size this revision covers (the checkpoint's size). */
  readonly size: bigint;
  /** The input log's RFC 6962 root hash at `size` (the checkpoint's root). */
  readonly logRoot: Uint8Array;
  /** The index root after consuming entries [0, size). */
  readonly indexRoot: Uint8Array;
}

const invalid: Fail = (what, evidence) => {
  throw new AccessFormatError(
    'OUTPUT_ENTRY_INVALID',
    `output-log entry: ${what}`,
    evidence ? { evidence } : {},
  );
};

function entryJson(e: OutputLogEntry): Json {
  return {
    schema: e.schema,
    log: e.log,
    size: Number(e.size),
    logRoot: toBase64(e.logRoot),
    indexRoot: toBase64(e.indexRoot),
  };
}

export function encodeOutputEntry(entry: OutputLogEntry): Uint8Array {
  return utf8(canonicalJson(entryJson(checkOutputEntryValue(entryJson(entry)))));
}

export function parseOutputEntry(bytes: Uint8Array): OutputLogEntry {
  if (bytes.length > MAX_OUTPUT_ENTRY_BYTES) {
    invalid('over the size limit', { size: bytes.length, max: MAX_OUTPUT_ENTRY_BYTES });
  }
  const value = parseJsonBytes(
    bytes,
    (cause) =>
      new AccessFormatError('OUTPUT_ENTRY_INVALID', 'output-log entry: not UTF-8 JSON', { cause }),
  );
  const entry = checkOutputEntryValue(value);
  if (!bytesEqual(utf8(canonicalJson(entryJson(entry))), bytes))
    invalid('the entry is not in canonical form');
  return entry;
}

function checkOutputEntryValue(value: unknown): OutputLogEntry {
  const v = exactObject(
    value,
    'the entry',
    ['schema', 'log', 'size', 'logRoot', 'indexRoot'],
    [],
    invalid,
  );
  if (v.schema !== OUTPUT_ENTRY_SCHEMA)
    invalid(`schema is not ${OUTPUT_ENTRY_SCHEMA}`, { schema: preview(v.schema) });
  const hash = (x: unknown, what: string): Uint8Array => {
    const bytes = typeof x === 'string' ? fromBase64(x) : undefined;
    if (bytes?.length !== HASH_BYTES)
      return invalid(`${what} is not a base64 32-byte hash`, { value: preview(x) });
    return bytes;
  };
  return {
    schema: OUTPUT_ENTRY_SCHEMA,
    log: matching(v.log, ORIGIN, 'log', invalid),
    size: BigInt(integer(v.size, 0, 'size', invalid)),
    logRoot: hash(v.logRoot, 'logRoot'),
    indexRoot: hash(v.indexRoot, 'indexRoot'),
  };
}
