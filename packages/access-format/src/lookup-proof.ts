/**
 * A customer's lookup proof and its pure verifier: the prefix-tree search
 * proof of KEYTRANS §12.2 (`PrefixProof` with one `PrefixSearchResult`),
 * carried as JSON (hashes in standard base64), and the recomputation of the
 * index root from the customer's own list of indices.
 */
import { bytesEqual, canonicalJson, fromBase64, toBase64, type Json } from '@glasshouse/residency';
import { isZero, nobleSha256, parseJsonBytes, utf8, ZERO_HASH, type HashOptions } from './bytes.js';
import { array, exactObject, integer, preview, type Fail } from './check.js';
import { AccessFormatError } from './errors.js';
import {
  commitmentOf,
  HASH_BYTES,
  keyBit,
  prefixLeafHash,
  prefixParentHash,
  searchKey,
} from './index-hash.js';
import { checkIndices } from './indices.js';

/** KEYTRANS §12.2 PrefixSearchResultType, by name. */
export type LookupResult = 'inclusion' | 'nonInclusionLeaf' | 'nonInclusionParent';

export interface LookupProof {
  readonly result: LookupResult;
  /** Depth of the terminal node (for nonInclusionParent: of the missing stand-in leaf). */
  readonly depth: number;
  /** nonInclusionLeaf only: the other key's leaf where the search ended. */
  readonly leaf?: { readonly searchKey: Uint8Array; readonly commitment: Uint8Array };
  /** Copath values, left to right, zeros for absent nodes (KEYTRANS §12.2). */
  readonly elements: readonly Uint8Array[];
}

/** KEYTRANS §12.2: `uint8 depth`. */
export const MAX_PROOF_DEPTH = 255;
/** 255 base64 hashes and a leaf fit in 16 KiB. */
export const MAX_LOOKUP_PROOF_BYTES = 16 * 1024;

const malformed: Fail = (what, evidence) => {
  throw new AccessFormatError(
    'LOOKUP_PROOF_INVALID',
    `lookup proof: ${what}`,
    evidence ? { evidence } : {},
  );
};

export function lookupProofJson(proof: LookupProof): Json {
  return {
    result: proof.result,
    depth: proof.depth,
    leaf:
      proof.leaf === undefined
        ? undefined
        : {
            searchKey: toBase64(proof.leaf.searchKey),
            commitment: toBase64(proof.leaf.commitment),
          },
    elements: proof.elements.map((e) => toBase64(e)),
  };
}

/** Canonical JSON bytes of a lookup proof. */
export function encodeLookupProof(proof: LookupProof): Uint8Array {
  return utf8(canonicalJson(lookupProofJson(checkLookupProofShape(proof))));
}

/** Parses a lookup proof from JSON bytes (size cap, shape; the hashes are checked by `verifyLookup`). */
export function parseLookupProof(bytes: Uint8Array): LookupProof {
  if (bytes.length > MAX_LOOKUP_PROOF_BYTES) {
    malformed('over the size limit', { size: bytes.length, max: MAX_LOOKUP_PROOF_BYTES });
  }
  return lookupProofFromJson(
    parseJsonBytes(
      bytes,
      (cause) => new AccessFormatError('LOOKUP_PROOF_INVALID', 'lookup proof: not JSON', { cause }),
    ),
  );
}

/** A lookup proof from its parsed JSON value (e.g. a field of an API answer). */
export function lookupProofFromJson(value: unknown): LookupProof {
  const v = exactObject(value, 'the proof', ['result', 'depth', 'elements'], ['leaf'], malformed);
  const hash = (x: unknown, what: string): Uint8Array => {
    const bytes = typeof x === 'string' ? fromBase64(x) : undefined;
    if (bytes?.length !== HASH_BYTES)
      return malformed(`${what} is not a base64 32-byte hash`, { value: preview(x) });
    return bytes;
  };
  const result = v.result;
  if (result !== 'inclusion' && result !== 'nonInclusionLeaf' && result !== 'nonInclusionParent') {
    return malformed('result is not a KEYTRANS PrefixSearchResultType', {
      result: preview(result),
    });
  }
  let leaf: LookupProof['leaf'];
  if (v.leaf !== undefined) {
    const l = exactObject(v.leaf, 'leaf', ['searchKey', 'commitment'], [], malformed);
    leaf = {
      searchKey: hash(l.searchKey, 'leaf.searchKey'),
      commitment: hash(l.commitment, 'leaf.commitment'),
    };
  }
  const elements = array(v.elements, 0, MAX_PROOF_DEPTH, 'elements', malformed).map((e, i) =>
    hash(e, `elements[${i}]`),
  );
  return checkLookupProofShape({
    result,
    depth: integer(v.depth, 0, 'depth', malformed),
    leaf,
    elements,
  });
}

/** KEYTRANS §12.2 structure rules that do not need the search key. */
function checkLookupProofShape(proof: LookupProof): LookupProof {
  if (proof.depth > MAX_PROOF_DEPTH) malformed('depth is over 255 (uint8)', { depth: proof.depth });
  // §12.2: `leaf` is present for nonInclusionLeaf, and only for it.
  if ((proof.result === 'nonInclusionLeaf') !== (proof.leaf !== undefined)) {
    malformed('a leaf goes with nonInclusionLeaf, and only with it', { result: proof.result });
  }
  // One search: one copath value per level above the terminal node.
  if (proof.elements.length !== proof.depth) {
    malformed('the number of elements is not the depth', {
      depth: proof.depth,
      elements: proof.elements.length,
    });
  }
  return proof;
}

/**
 * The index root a lookup proof implies for `customer` and its list of
 * indices (KEYTRANS §12.2: "hashing together the provided values, in the
 * left/right arrangement dictated by the bits of the search keys"). An empty
 * list must come with a non-inclusion proof, a non-empty one with an
 * inclusion proof. Throws LOOKUP_PROOF_INVALID or LOOKUP_PROOF_MISMATCH.
 */
export function rootFromLookup(
  customer: string,
  indices: readonly bigint[],
  proof: LookupProof,
  options: HashOptions = {},
): Uint8Array {
  const sha256 = options.sha256 ?? nobleSha256;
  const list = checkIndices(indices, undefined);
  checkLookupProofShape(proof);
  const key = searchKey(customer, sha256);
  let value: Uint8Array;
  switch (proof.result) {
    case 'inclusion':
      if (list.length === 0) {
        throw new AccessFormatError(
          'LOOKUP_PROOF_MISMATCH',
          'the index lists accesses for this customer, the list given is empty',
          { evidence: { customer } },
        );
      }
      value = prefixLeafHash(key, commitmentOf(list, sha256), sha256);
      break;
    case 'nonInclusionLeaf': {
      const other = proof.leaf as NonNullable<LookupProof['leaf']>;
      checkNonEmpty(list, customer);
      // §12.2: the terminal leaf is another key's, on this key's search path.
      if (bytesEqual(other.searchKey, key))
        malformed('a non-inclusion leaf carries the searched key');
      for (let i = 0; i < proof.depth; i++) {
        if (keyBit(other.searchKey, i) !== keyBit(key, i)) {
          malformed('the non-inclusion leaf is not on the search path', {
            depth: proof.depth,
            bit: i,
          });
        }
      }
      value = prefixLeafHash(other.searchKey, other.commitment, sha256);
      break;
    }
    case 'nonInclusionParent':
      checkNonEmpty(list, customer);
      // §12.2: the stand-in leaf of a parent lacking the child is all zeros.
      value = ZERO_HASH;
      break;
  }
  const elements = proof.elements;
  const depth = proof.depth;
  // A parent exists only above two keys (§3.3): the terminal node's sibling is never absent.
  if (depth > 0) {
    const last = keyBit(key, depth - 1) === 1 ? countOnes(key, depth) - 1 : countOnes(key, depth);
    if (isZero(elements[last] as Uint8Array))
      malformed('the sibling of the terminal node is absent');
  }
  let left = countOnes(key, depth) - 1; // siblings on the left, listed top-down
  let right = countOnes(key, depth); // siblings on the right start here, listed bottom-up
  for (let i = depth - 1; i >= 0; i--) {
    if (keyBit(key, i) === 1) {
      value = prefixParentHash(elements[left] as Uint8Array, value, sha256);
      left -= 1;
    } else {
      value = prefixParentHash(value, elements[right] as Uint8Array, sha256);
      right += 1;
    }
  }
  return value;
}

/**
 * Verifies that `indices` is exactly what the index with `root` holds for
 * `customer` (vindex README "Reading": "the inclusion proof in the
 * Verifiable Index: this ties the indices returned to the key and the Map
 * Root Hash"). Returns nothing or throws LOOKUP_PROOF_INVALID (malformed) /
 * LOOKUP_PROOF_MISMATCH (does not lead to `root`: a list with a record
 * hidden or added, or a proof for another index).
 */
export function verifyLookup(
  root: Uint8Array,
  customer: string,
  indices: readonly bigint[],
  proof: LookupProof,
  options: HashOptions = {},
): void {
  const computed = rootFromLookup(customer, indices, proof, options);
  if (!bytesEqual(computed, root)) {
    throw new AccessFormatError(
      'LOOKUP_PROOF_MISMATCH',
      'the lookup does not lead to the index root',
      {
        evidence: {
          customer,
          root: toBase64(root),
          computed: toBase64(computed),
          result: proof.result,
        },
      },
    );
  }
}

function checkNonEmpty(list: readonly number[], customer: string): void {
  if (list.length > 0) {
    throw new AccessFormatError(
      'LOOKUP_PROOF_MISMATCH',
      'the index holds no accesses for this customer, the list given is not empty',
      { evidence: { customer, indices: list.length } },
    );
  }
}

function countOnes(key: Uint8Array, depth: number): number {
  let n = 0;
  for (let i = 0; i < depth; i++) n += keyBit(key, i);
  return n;
}
