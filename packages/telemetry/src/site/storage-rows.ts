/** Row encodings both storage adapters share (pure). */
import type { EventVerdict, HashFacts, ListVerdict, StoredEvent } from './storage.js';

/** Event keys are `batch * 1024 + index`: a batch holds at most 1,000 events. */
export const EVENTS_PER_BATCH_KEY = 1024n;

export const VERDICT_CODE: Readonly<Record<EventVerdict, number>> = {
  unknown: 0,
  clean: 1,
  suspicious: 2,
  malicious: 3,
};

export const LIST_VERDICT_CODE: Readonly<Record<ListVerdict, number>> = {
  'known-good': 1,
  'known-bad': 2,
};

/** The raw 32 bytes of a 64-hex SHA-256 (callers validated the hex). */
export function hashBytes(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

/** One batch's contribution to the facts of each distinct hash. */
export interface FactsDelta {
  readonly hash: Buffer;
  readonly hex: string;
  firstSeen: string;
  malicious: number;
  suspicious: number;
  reports: number;
}

/** Sums a batch's events per hash, so each hash is written once per batch. */
export function aggregateFacts(events: readonly StoredEvent[]): FactsDelta[] {
  const byHash = new Map<string, FactsDelta>();
  for (const e of events) {
    let d = byHash.get(e.sha256);
    if (d === undefined) {
      d = {
        hash: hashBytes(e.sha256),
        hex: e.sha256,
        firstSeen: e.timeBucket,
        malicious: 0,
        suspicious: 0,
        reports: 0,
      };
      byHash.set(e.sha256, d);
    }
    // RFC 3339 timestamps in one fixed format order as strings.
    if (e.timeBucket < d.firstSeen) d.firstSeen = e.timeBucket;
    d.reports += 1;
    if (e.verdict === 'malicious') d.malicious += 1;
    if (e.verdict === 'suspicious') d.suspicious += 1;
  }
  // Deterministic order: concurrent writers lock rows in the same order.
  return [...byHash.values()].sort((a, b) => (a.hex < b.hex ? -1 : a.hex > b.hex ? 1 : 0));
}

export interface FactsRow {
  first_seen: string | null;
  malicious: bigint | number | string;
  suspicious: bigint | number | string;
  reports: bigint | number | string;
  list_verdict: bigint | number | null;
}

export function factsFromRow(sha256: string, row: FactsRow | undefined): HashFacts {
  if (row === undefined) {
    return { sha256, firstSeen: null, malicious: 0, suspicious: 0, reports: 0, listVerdict: null };
  }
  const list = row.list_verdict === null ? null : Number(row.list_verdict);
  return {
    sha256,
    firstSeen: row.first_seen,
    malicious: Number(row.malicious),
    suspicious: Number(row.suspicious),
    reports: Number(row.reports),
    listVerdict: list === 2 ? 'known-bad' : list === 1 ? 'known-good' : null,
  };
}

const VERDICT_OF_CODE: readonly EventVerdict[] = ['unknown', 'clean', 'suspicious', 'malicious'];

/** The verdict stored as `code` (STORAGE_CORRUPT-worthy when unknown: the caller checks undefined). */
export function verdictOfCode(code: number): EventVerdict | undefined {
  return VERDICT_OF_CODE[code];
}

/** SQL bounds for a time range on `created_at` text: whole seconds, widened to the second's end. */
export function createdAtBounds(from: string, to: string): { low: string; high: string } {
  // RFC 3339 UTC text sorts by time up to the seconds; fractions are re-checked by the caller.
  return { low: from.slice(0, 19), high: `${to.slice(0, 19)}~` };
}
