/**
 * A customer's completeness check (issue 17 §6): "these are all the
 * accesses to my data up to size N". Pure: the caller has already verified
 * the output-log entry's inclusion under a witnessed output-log checkpoint,
 * and each record's inclusion in the access log at the entry's size (tlog
 * proofs, elsewhere). This module ties the rest together.
 */
import { bytesEqual, toBase64 } from '@glasshouse/residency';
import { AccessFormatError } from './errors.js';
import { checkIndices } from './indices.js';
import type { HashOptions } from './bytes.js';
import { verifyLookup, type LookupProof } from './lookup-proof.js';
import type { OutputLogEntry } from './output-entry.js';
import { parseAccessRecord, type AccessRecord } from './record.js';

export interface CompletenessInput extends HashOptions {
  /** The output-log entry (its tlog inclusion verified by the caller). */
  readonly entry: OutputLogEntry;
  readonly customer: string;
  /** The customer's list of access-log indices, as served. */
  readonly indices: readonly bigint[];
  readonly proof: LookupProof;
  /** The access-log entries at those indices, in the same order (inclusion verified by the caller). */
  readonly records: readonly Uint8Array[];
  /** Indices of accesses the customer learned of otherwise (receipts, alerts): each must be listed. */
  readonly known?: readonly bigint[];
  /** The customer's own verified access-log checkpoint (size, root), when it has one. */
  readonly accessLog?: { readonly size: bigint; readonly root: Uint8Array };
}

export interface CompletenessResult {
  readonly customer: string;
  /** All accesses to the customer's data in access-log entries [0, size). */
  readonly size: bigint;
  readonly records: readonly AccessRecord[];
}

/**
 * Checks, in order, and throws the first failure:
 * 1. the entry's input checkpoint is the customer's own view of the access
 *    log at that size (INPUT_CHECKPOINT_MISMATCH);
 * 2. the indices are ascending and below the size (INDICES_INVALID);
 * 3. the lookup proof ties exactly these indices to the index root
 *    (LOOKUP_PROOF_MISMATCH: a record hidden from the list or added to it);
 * 4. every listed record is the customer's (RECORD_FOREIGN);
 * 5. the customer's access counters run 1, 2, … n without a gap, and every
 *    access known otherwise is listed (RECORD_OMITTED: the index was built
 *    without one of the customer's records).
 */
export function checkCompleteness(input: CompletenessInput): CompletenessResult {
  const { entry, customer, indices, proof, records } = input;
  // vindex README "Reading": the output-log value "commits to the Input Log state".
  if (input.accessLog?.size === entry.size && !bytesEqual(input.accessLog.root, entry.logRoot)) {
    throw new AccessFormatError(
      'INPUT_CHECKPOINT_MISMATCH',
      'the index covers another access log at this size',
      {
        evidence: {
          size: String(entry.size),
          accessLogRoot: toBase64(input.accessLog.root),
          entryLogRoot: toBase64(entry.logRoot),
        },
      },
    );
  }
  checkIndices(indices, entry.size);
  // vindex README "Reading": the inclusion proof in the index ties the indices to the key and root.
  verifyLookup(entry.indexRoot, customer, indices, proof, input);
  if (records.length !== indices.length) {
    throw new AccessFormatError('INDICES_INVALID', 'one record is needed per listed index', {
      evidence: { indices: indices.length, records: records.length },
    });
  }
  const parsed = records.map((bytes) => parseAccessRecord(bytes));
  parsed.forEach((record, i) => {
    if (record.customer !== customer) {
      throw new AccessFormatError('RECORD_FOREIGN', "a listed record is another customer's", {
        evidence: { index: String(indices[i]), customer, recordCustomer: record.customer },
      });
    }
    // Issue 17 §1: the customer's access counter; a gap is a record left out of the index.
    if (record.counter !== i + 1) {
      throw new AccessFormatError('RECORD_OMITTED', "the customer's access counter has a gap", {
        evidence: { index: String(indices[i]), expectedCounter: i + 1, counter: record.counter },
      });
    }
  });
  const listed = new Set(indices);
  for (const index of input.known ?? []) {
    if (!listed.has(index)) {
      throw new AccessFormatError(
        'RECORD_OMITTED',
        'an access known to the customer is not listed',
        {
          evidence: { index: String(index), size: String(entry.size) },
        },
      );
    }
  }
  return { customer, size: entry.size, records: parsed };
}

/**
 * Two output-log entries for one input log (vindex "Verifying"; KEYTRANS
 * §10.2 "Detecting Forks"): at one input size the index root and the input
 * root must be the same, so a party shown two different roots at one size
 * holds the evidence of a fork (INDEX_FORK, both entries as evidence).
 */
export function checkNoFork(a: OutputLogEntry, b: OutputLogEntry): void {
  if (a.log !== b.log || a.size !== b.size) return;
  if (!bytesEqual(a.logRoot, b.logRoot) || !bytesEqual(a.indexRoot, b.indexRoot)) {
    throw new AccessFormatError('INDEX_FORK', 'two index revisions at one input size differ', {
      evidence: {
        log: a.log,
        size: String(a.size),
        a: { logRoot: toBase64(a.logRoot), indexRoot: toBase64(a.indexRoot) },
        b: { logRoot: toBase64(b.logRoot), indexRoot: toBase64(b.indexRoot) },
      },
    });
  }
}
