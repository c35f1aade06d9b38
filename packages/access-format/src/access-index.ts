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
import { type LeafHandle, PrefixTree } from './prefix-tree.js';
import { parseAccessRecord } from './record.js';

interface CustomerList {
  readonly key: Uint8Array;
  readonly indices: number[];
  readonly list: CompactList;
  /** The customer's leaf once it is in the tree. */
  leaf: LeafHandle | null;
}

/**
 * One customer's saved state: its list of indices and the compact range
 * of the list's RFC 6962 tree (peaks, largest first). Lets a service keep
 * the index on disk and reopen it without rehashing the input log.
 */
export interface IndexCustomerState {
  readonly customer: string;
  readonly indices: readonly number[];
  readonly peaks: readonly Uint8Array[];
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

  /**
   * Reopens an index from saved state: `size` entries consumed and each
   * customer's list with its peaks (as `customerState` gave them). Only the
   * prefix tree is rebuilt (one leaf per customer); the lists are not
   * rehashed, so the caller must pass state this class produced.
   */
  static restore(
    size: bigint,
    customers: Iterable<IndexCustomerState>,
    options: HashOptions = {},
  ): AccessIndex {
    const index = new AccessIndex(options);
    if (size < 0n || size > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new AccessFormatError('INDEX_INPUT_INVALID', 'the saved size is out of range');
    }
    index.consumed = Number(size);
    for (const c of customers) {
      if (!CUSTOMER_PSEUDONYM.test(c.customer) || index.lists.has(c.customer)) {
        throw new AccessFormatError('INDEX_INPUT_INVALID', 'a saved customer is invalid or twice', {
          evidence: { customer: c.customer.slice(0, 40) },
        });
      }
      const last = c.indices[c.indices.length - 1];
      if (last !== undefined && last >= index.consumed) {
        throw new AccessFormatError('INDEX_INPUT_INVALID', 'a saved index is beyond the size', {
          evidence: { customer: c.customer, index: last, size: String(size) },
        });
      }
      let list: CompactList;
      try {
        list = CompactList.restore(index.sha256, c.indices.length, c.peaks);
      } catch (cause) {
        throw new AccessFormatError('INDEX_INPUT_INVALID', 'saved peaks do not fit the list', {
          cause,
          evidence: { customer: c.customer, indices: c.indices.length, peaks: c.peaks.length },
        });
      }
      const state: CustomerList = {
        key: searchKey(c.customer, index.sha256),
        indices: [...c.indices],
        list,
        leaf: null,
      };
      index.lists.set(c.customer, state);
      index.touched.add(state);
    }
    return index;
  }

  /** The saved state of one customer's list, or undefined when it has no access. */
  customerState(customer: string): IndexCustomerState | undefined {
    const state = this.lists.get(customer);
    if (state === undefined) return undefined;
    return { customer, indices: [...state.indices], peaks: state.list.state() };
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
          leaf: null,
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
    for (const state of this.touched) {
      if (state.leaf === null) state.leaf = this.tree.set(state.key, state.list.commitment());
      else this.tree.update(state.leaf, state.list.commitment());
    }
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
