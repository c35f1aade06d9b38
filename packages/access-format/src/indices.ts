/** A customer's list of access-log indices: checks and conversion. */
import { AccessFormatError } from './errors.js';

/**
 * The list as numbers: strictly ascending (each access-log entry at most
 * once, one order), each in [0, size) when the input size is given.
 * Indices are 64-bit at the API (`bigint`); beyond 2^53 is refused.
 */
export function checkIndices(indices: readonly bigint[], size: bigint | undefined): number[] {
  const out: number[] = new Array<number>(indices.length);
  let previous = -1n;
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i] as bigint;
    if (typeof index !== 'bigint' || index <= previous || index > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new AccessFormatError(
        'INDICES_INVALID',
        'indices are not strictly ascending 64-bit integers',
        {
          evidence: { position: i, index: String(index) },
        },
      );
    }
    if (size !== undefined && index >= size) {
      throw new AccessFormatError('INDICES_INVALID', 'an index is beyond the input log size', {
        evidence: { position: i, index: String(index), size: String(size) },
      });
    }
    out[i] = Number(index);
    previous = index;
  }
  return out;
}
