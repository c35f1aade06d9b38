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

/** Counts of one hash not yet written to the facts table (see `PendingFacts`). */
export interface PendingCounts {
  firstSeen: string;
  malicious: number;
  suspicious: number;
  reports: number;
}

/**
 * The reputation counts of stored events that are not folded into the facts
 * table yet, per hash, in memory. Folding many batches at once writes each
 * facts page once per fold instead of once per batch (random hashes put
 * nearly every event of a batch on its own page).
 */
export class PendingFacts {
  readonly #byHash = new Map<string, PendingCounts>();
  #events = 0;

  /** Events counted since the last `clear()`. */
  get events(): number {
    return this.#events;
  }

  add(events: readonly Pick<StoredEvent, 'sha256' | 'verdict' | 'timeBucket'>[]): void {
    for (const e of events) {
      let c = this.#byHash.get(e.sha256);
      if (c === undefined) {
        c = { firstSeen: e.timeBucket, malicious: 0, suspicious: 0, reports: 0 };
        this.#byHash.set(e.sha256, c);
      }
      // RFC 3339 timestamps in one fixed format order as strings.
      if (e.timeBucket < c.firstSeen) c.firstSeen = e.timeBucket;
      c.reports += 1;
      if (e.verdict === 'malicious') c.malicious += 1;
      if (e.verdict === 'suspicious') c.suspicious += 1;
    }
    this.#events += events.length;
  }

  get(sha256: string): PendingCounts | undefined {
    return this.#byHash.get(sha256);
  }

  /** Per hash, in hash order: concurrent writers lock rows in the same order. */
  deltas(): FactsDelta[] {
    // The default sort compares UTF-16 code units: for lowercase hex that is hash order, and
    // several times faster than a comparator over the entries.
    return [...this.#byHash.keys()].sort().map((hex) => {
      const c = this.#byHash.get(hex) as PendingCounts;
      return {
        hash: hashBytes(hex),
        hex,
        firstSeen: c.firstSeen,
        malicious: c.malicious,
        suspicious: c.suspicious,
        reports: c.reports,
      };
    });
  }

  clear(): void {
    this.#byHash.clear();
    this.#events = 0;
  }
}

/** Sums a batch's events per hash, so each hash is written once per batch. */
export function aggregateFacts(events: readonly StoredEvent[]): FactsDelta[] {
  const pending = new PendingFacts();
  pending.add(events);
  return pending.deltas();
}

/** `facts` with the counts not folded yet added. */
export function withPending(facts: HashFacts, pending: PendingCounts | undefined): HashFacts {
  if (pending === undefined) return facts;
  return {
    ...facts,
    firstSeen:
      facts.firstSeen === null || pending.firstSeen < facts.firstSeen
        ? pending.firstSeen
        : facts.firstSeen,
    malicious: facts.malicious + pending.malicious,
    suspicious: facts.suspicious + pending.suspicious,
    reports: facts.reports + pending.reports,
  };
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

/** A facts row as positional values: first_seen, malicious, suspicious, reports, list_verdict. */
export type FactsValues = readonly [string | null, number, number, number, number | null];

/** `factsFromRow` for a raw row of plain numbers (SQLite's lookup statement). */
export function factsFromValues(sha256: string, row: FactsValues | undefined): HashFacts {
  if (row === undefined) {
    return { sha256, firstSeen: null, malicious: 0, suspicious: 0, reports: 0, listVerdict: null };
  }
  const list = row[4];
  return {
    sha256,
    firstSeen: row[0],
    malicious: row[1],
    suspicious: row[2],
    reports: row[3],
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
