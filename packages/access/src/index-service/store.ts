/**
 * Where the index service keeps its state, so a restart reopens the index
 * without replaying the access log: the access log's last verified
 * checkpoint (with its compact range), the MapFn output of every entry
 * (which customer each index concerns), each customer's list peaks, and the
 * last output-log entry published. One commit per published revision, all
 * of it in one transaction: after a crash the state never claims entries it
 * has not indexed, nor a revision it has not published.
 *
 * Two implementations, one contract (test/index-store.contract.ts): SQLite
 * (one process per data directory) and PostgreSQL (one schema per index;
 * a commit must continue the stored size, so two writers cannot both win).
 */
import type { IndexCustomerState } from '@glasshouse/access-format';
import { HASH_SIZE } from '@glasshouse/tlog';
import { type TailState, decodeTailState, encodeTailState } from '@glasshouse/telemetry';
import { AccessError } from '../errors.js';

/** The last output-log entry the service appended (and saw witnessed). */
export interface PublishedRevision {
  /** Access-log size the revision covers. */
  readonly size: bigint;
  /** The entry's index in the output log. */
  readonly outputIndex: bigint;
  /** The entry's bytes (`encodeOutputEntry`). */
  readonly entry: Uint8Array;
}

/** One customer's list as saved: its length and the peaks of its RFC 6962 tree. */
export interface CustomerPeaks {
  readonly customer: string;
  readonly count: number;
  readonly peaks: readonly Uint8Array[];
}

export interface IndexSnapshot {
  readonly tail: TailState | null;
  /** Every customer with at least one access: its indices (ascending) and peaks. */
  readonly customers: readonly IndexCustomerState[];
  readonly published: PublishedRevision | null;
}

export interface IndexCommit {
  /** The access-log size the stored state had (the commit is refused unless it still has it). */
  readonly fromSize: bigint;
  readonly tail: TailState;
  /** The new entries that concern a customer, in index order. */
  readonly keys: readonly { readonly index: bigint; readonly customer: string }[];
  /** The state of every customer the new entries touched. */
  readonly customers: readonly CustomerPeaks[];
  readonly published: PublishedRevision;
}

export interface IndexStore {
  /** Everything saved (empty on first use). */
  load(): Promise<IndexSnapshot>;
  /**
   * Saves one revision atomically and durably; `INDEX_STATE_CONFLICT` when
   * the stored size is no longer `fromSize` (another writer went first).
   */
  commit(c: IndexCommit): Promise<void>;
  close(): Promise<void>;
}

/** Groups saved keys and peaks into customer states (shared by both stores). */
export function assembleCustomers(
  peaks: Iterable<CustomerPeaks>,
  keys: Iterable<{ customer: string; index: number }>,
): IndexCustomerState[] {
  const lists = new Map<string, number[]>();
  for (const k of keys) {
    let list = lists.get(k.customer);
    if (list === undefined) {
      list = [];
      lists.set(k.customer, list);
    }
    list.push(k.index);
  }
  const out: IndexCustomerState[] = [];
  for (const p of peaks) {
    const indices = lists.get(p.customer) ?? [];
    if (indices.length !== p.count) {
      throw corrupt(`customer ${p.customer} has ${indices.length} keys and a list of ${p.count}`);
    }
    out.push({ customer: p.customer, indices, peaks: p.peaks });
    lists.delete(p.customer);
  }
  if (lists.size > 0) throw corrupt('keys of a customer without a list');
  return out;
}

export function corrupt(why: string, cause?: unknown): AccessError {
  return new AccessError('INDEX_STATE_CORRUPT', `stored index state: ${why}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Peaks as one blob of 32-byte hashes. */
export function encodePeaks(peaks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(peaks.length * HASH_SIZE);
  peaks.forEach((p, i) => {
    out.set(p, i * HASH_SIZE);
  });
  return out;
}

export function decodePeaks(blob: Uint8Array): Uint8Array[] {
  if (blob.length % HASH_SIZE !== 0) throw corrupt('peaks are not 32-byte hashes');
  const out: Uint8Array[] = [];
  for (let i = 0; i < blob.length; i += HASH_SIZE) out.push(blob.slice(i, i + HASH_SIZE));
  return out;
}

/** The tail state as text (telemetry's encoding, shared with its `TailStore`). */
export const encodeTail = encodeTailState;

export function decodeTail(text: string): TailState {
  try {
    return decodeTailState(text);
  } catch (cause) {
    throw corrupt('the tail state does not decode', cause);
  }
}

/** The stored size moved under a writer (two index services on one store). */
export function conflict(stored: bigint, expected: bigint): AccessError {
  return new AccessError(
    'INDEX_STATE_CONFLICT',
    `the stored index is at size ${stored}, not ${expected}: another writer committed`,
    { evidence: { stored: stored.toString(), expected: expected.toString() } },
  );
}
