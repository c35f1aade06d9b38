/**
 * The verifiable index over the access log (issue 17 §6; vindex README
 * "Constructing"): the access log is consumed entry by entry, each entry's
 * MapFn output (the customer it concerns) appends the entry's index to that
 * customer's list, and the prefix tree from search key to list commitment
 * gives one root per revision. Deterministic: anyone who replays the same
 * access log gets the same roots (vindex "Verifying").
 */
import { CUSTOMER_PSEUDONYM } from '@glasshouse/residency';
import { nobleSha256, type HashOptions, type Sha256 } from './bytes.js';
import { AccessFormatError } from './errors.js';
import { CompactList, searchKey } from './index-hash.js';
import type { LookupProof } from './lookup-proof.js';
import { PrefixTree } from './prefix-tree.js';
import { parseAccessRecord } from './record.js';

interface CustomerList {
  readonly key: Uint8Array;
  readonly indices: number[];
  readonly list: CompactList;
}

/** One revision of the index: the input-log size it covers and its root. */
export interface IndexRevision {
  readonly size: bigint;
  readonly root: Uint8Array;
}

/**
 * The MapFn of the access index (vindex "MapFn"): the customer an access-log
 * entry concerns, or null for an entry that is not a well-formed access
 * record (it maps to no key; the access monitor reports such entries).
 * Fixed for the life of the index.
 */
export function accessIndexKey(entry: Uint8Array): string | null {
  try {
    return parseAccessRecord(entry).customer;
  } catch (err) {
    if (err instanceof AccessFormatError) return null;
    throw err;
  }
}

export class AccessIndex {
  private readonly sha256: Sha256;
  private readonly tree: PrefixTree;
  private readonly lists = new Map<string, CustomerList>();
  private readonly touched = new Set<CustomerList>();
  private consumed = 0;

  constructor(options: HashOptions = {}) {
    this.sha256 = options.sha256 ?? nobleSha256;
    this.tree = new PrefixTree(this.sha256);
  }

  /** Number of input-log entries consumed: the next entry's index. */
  get size(): bigint {
    return BigInt(this.consumed);
  }

  /** Number of customers with at least one access. */
  get customers(): number {
    return this.lists.size;
  }

  /** Consumes the next access-log entry (index = `size`) through the MapFn; returns its customer or null. */
  appendEntry(entry: Uint8Array): string | null {
    const customer = accessIndexKey(entry);
    this.appendKey(customer);
    return customer;
  }

  /**
   * Consumes the next access-log entry given its MapFn output (a customer
   * pseudonym, or null for an entry that maps to no key). For a caller that
   * already parsed the record.
   */
  appendKey(customer: string | null): void {
    const index = this.consumed;
    if (index >= Number.MAX_SAFE_INTEGER) {
      throw new AccessFormatError('INDEX_INPUT_INVALID', 'the input log is beyond 2^53 entries');
    }
    if (customer !== null) {
      let state = this.lists.get(customer);
      if (state === undefined) {
        if (!CUSTOMER_PSEUDONYM.test(customer)) {
          throw new AccessFormatError('INDEX_INPUT_INVALID', 'not a customer pseudonym', {
            evidence: { index, customer: customer.slice(0, 40) },
          });
        }
        state = {
          key: searchKey(customer, this.sha256),
          indices: [],
          list: new CompactList(this.sha256),
        };
        this.lists.set(customer, state);
      }
      state.indices.push(index);
      state.list.append(index);
      this.touched.add(state);
    }
    this.consumed = index + 1;
  }

  /**
   * Consumes entries [from, from + entries.length): `from` must be `size`,
   * so a revision always covers a prefix of the input log.
   */
  appendEntries(from: bigint, entries: readonly Uint8Array[]): void {
    if (from !== this.size) {
      throw new AccessFormatError(
        'INDEX_ENTRY_OUT_OF_ORDER',
        'entries must continue at the index size',
        {
          evidence: { from: String(from), size: String(this.size) },
        },
      );
    }
    for (const entry of entries) this.appendEntry(entry);
  }

  /** The root over everything consumed so far (rehashes only what changed). */
  root(): Uint8Array {
    for (const state of this.touched) this.tree.set(state.key, state.list.commitment());
    this.touched.clear();
    return this.tree.root();
  }

  /** The current revision: the input size covered and the root (the output-log entry's content). */
  revision(): IndexRevision {
    return { size: this.size, root: this.root() };
  }

  /** The customer's indices (empty when none) and the lookup proof against `root()`. */
  lookup(customer: string): { readonly indices: bigint[]; readonly proof: LookupProof } {
    this.root();
    const state = this.lists.get(customer);
    const key = state?.key ?? searchKey(customer, this.sha256);
    return { indices: (state?.indices ?? []).map((i) => BigInt(i)), proof: this.tree.prove(key) };
  }
}
