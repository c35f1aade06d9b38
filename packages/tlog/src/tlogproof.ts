/**
 * Offline receipts (c2sp.org/tlog-proof@v1, files `.tlog-proof`): an entry's
 * index, its inclusion proof and the log's cosigned checkpoint in one text
 * file, verifiable with nothing but the entry and a policy.
 *
 *     c2sp.org/tlog-proof@v1
 *     [extra <base64>]
 *     index <decimal>
 *     <base64 hash>            zero or more, leaf's sibling first
 *
 *     <checkpoint note, verbatim>
 */
import type { Checkpoint } from './checkpoint.js';
import { TlogError } from './errors.js';
import { HASH_SIZE, hashLeaf } from './hash.js';
import { decodeBase64Strict, encodeBase64 } from './note.js';
import { type Policy, type VerifyWithPolicyOptions, verifyCheckpointWithPolicy } from './policy.js';
import { verifyInclusion } from './proof.js';

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';

/**
 * Inclusion proofs in a tree of at most 2^64 - 1 leaves (sizes are uint64)
 * have at most 64 hashes; anything longer cannot verify. RFC 6962 §2.1.1
 */
export const MAX_PROOF_HASHES = 64;

/** Default cap on a receipt's size in bytes: a checkpoint with a few dozen signatures fits easily. */
export const DEFAULT_MAX_TLOG_PROOF_SIZE = 64 * 1024;

const MAX_UINT64 = (1n << 64n) - 1n;

export interface TlogProof {
  /** Opaque, unauthenticated application data; never trust it implicitly. c2sp.org/tlog-proof */
  readonly extra?: Uint8Array | undefined;
  /** Zero-based index of the entry in the log. */
  readonly index: bigint;
  /** Inclusion proof, from the leaf's sibling up to the root's child. RFC 6962 §2.1.1 */
  readonly proof: readonly Uint8Array[];
  /** The signed checkpoint note, verbatim (ends with a newline). */
  readonly checkpoint: string;
}

/** Serialises a receipt. Throws the same codes as the parser for values it could not read back. */
export function formatTlogProof(p: TlogProof): string {
  if (p.index < 0n || p.index > MAX_UINT64) {
    throw new TlogError('TLOGPROOF_BAD_INDEX', 'index must be a uint64', {
      evidence: { index: p.index.toString() },
    });
  }
  if (p.proof.length > MAX_PROOF_HASHES) {
    throw new TlogError('TLOGPROOF_PROOF_TOO_LONG', `more than ${MAX_PROOF_HASHES} proof hashes`, {
      evidence: { hashes: p.proof.length },
    });
  }
  const badHash = p.proof.findIndex((h) => h.length !== HASH_SIZE);
  if (badHash !== -1) {
    throw new TlogError('TLOGPROOF_BAD_HASH', `proof hashes must be ${HASH_SIZE} bytes`, {
      evidence: { position: badHash },
    });
  }
  // The checkpoint is a signed note: non-empty, newline-terminated, no
  // empty first line (which would end the proof lines early). c2sp.org/signed-note
  if (p.checkpoint === '' || p.checkpoint.startsWith('\n') || !p.checkpoint.endsWith('\n')) {
    throw new TlogError('TLOGPROOF_MISSING_CHECKPOINT', 'checkpoint must be a signed note');
  }
  const lines = [TLOG_PROOF_HEADER];
  // The extra line is omitted when there is no extra data. c2sp.org/tlog-proof
  if (p.extra !== undefined && p.extra.length > 0) lines.push(`extra ${encodeBase64(p.extra)}`);
  lines.push(`index ${p.index}`);
  for (const h of p.proof) lines.push(encodeBase64(h));
  lines.push('');
  return `${lines.join('\n')}\n${p.checkpoint}`;
}

export interface ParseTlogProofOptions {
  /** Maximum size in bytes. Defaults to {@link DEFAULT_MAX_TLOG_PROOF_SIZE}. */
  maxSize?: number;
}

/**
 * Parses a receipt strictly. The checkpoint is returned verbatim and is not
 * verified here; use {@link verifyTlogProof}.
 */
export function parseTlogProof(
  input: string | Uint8Array,
  opts: ParseTlogProofOptions = {},
): TlogProof {
  const text = decodeReceipt(input, opts.maxSize ?? DEFAULT_MAX_TLOG_PROOF_SIZE);
  let pos = 0;
  let lineNo = 0;
  // Returns the next newline-terminated line, or undefined at the end of the
  // text (a final line without newline counts as truncated).
  const nextLine = (): string | undefined => {
    const end = text.indexOf('\n', pos);
    if (end === -1) return undefined;
    const line = text.slice(pos, end);
    pos = end + 1;
    lineNo++;
    return line;
  };

  // The first line MUST be the header. c2sp.org/tlog-proof
  if (nextLine() !== TLOG_PROOF_HEADER) {
    throw new TlogError('TLOGPROOF_BAD_HEADER', `first line must be ${TLOG_PROOF_HEADER}`);
  }

  let line = nextLine();
  let extra: Uint8Array | undefined;
  // The second line MAY be `extra <base64>`. c2sp.org/tlog-proof
  if (line?.startsWith('extra ') === true) {
    const decoded = decodeBase64Strict(line.slice('extra '.length));
    // An empty payload is refused: with no extra data the line is omitted.
    if (decoded === undefined || decoded.length === 0) {
      throw new TlogError('TLOGPROOF_BAD_EXTRA', 'extra data is not non-empty base64', {
        evidence: { line: lineNo },
      });
    }
    extra = decoded;
    line = nextLine();
  }

  // `index <decimal>`, no leading zeroes unless 0. c2sp.org/tlog-proof
  const index = line === undefined ? undefined : parseIndex(line);
  if (index === undefined) {
    throw new TlogError('TLOGPROOF_BAD_INDEX', 'expected "index <decimal>"', {
      evidence: { line: lineNo },
    });
  }

  // Zero or more non-empty lines, one SHA-256 hash each, then an empty line.
  // c2sp.org/tlog-proof
  const proof: Uint8Array[] = [];
  for (;;) {
    line = nextLine();
    if (line === undefined) {
      throw new TlogError('TLOGPROOF_MISSING_CHECKPOINT', 'no empty line before the checkpoint', {
        evidence: { line: lineNo + 1 },
      });
    }
    if (line === '') break;
    if (proof.length === MAX_PROOF_HASHES) {
      throw new TlogError(
        'TLOGPROOF_PROOF_TOO_LONG',
        `more than ${MAX_PROOF_HASHES} proof hashes`,
        {
          evidence: { line: lineNo },
        },
      );
    }
    const hash = decodeBase64Strict(line);
    if (hash?.length !== HASH_SIZE) {
      throw new TlogError(
        'TLOGPROOF_BAD_HASH',
        `proof line is not a base64 ${HASH_SIZE}-byte hash`,
        {
          evidence: { line: lineNo },
        },
      );
    }
    proof.push(hash);
  }

  // The rest is the checkpoint, verbatim. c2sp.org/tlog-proof
  const checkpoint = text.slice(pos);
  if (checkpoint === '') {
    throw new TlogError('TLOGPROOF_MISSING_CHECKPOINT', 'receipt has no checkpoint', {
      evidence: { line: lineNo + 1 },
    });
  }
  return extra === undefined ? { index, proof, checkpoint } : { extra, index, proof, checkpoint };
}

export interface VerifiedTlogProof {
  readonly checkpoint: Checkpoint;
  readonly index: bigint;
  /** Policy names of the witnesses whose cosignature verified. */
  readonly cosigners: string[];
  /** The unauthenticated extra data, if any. c2sp.org/tlog-proof */
  readonly extra: Uint8Array | undefined;
}

export interface VerifyTlogProofOptions extends ParseTlogProofOptions, VerifyWithPolicyOptions {}

/**
 * Verifies that `entry` is in a log the policy trusts: parses the receipt,
 * verifies its checkpoint against the policy (log signature, origin, witness
 * quorum), then verifies the inclusion of `hashLeaf(entry)` at the receipt's
 * index in that checkpoint's tree. Throws on any failure.
 *
 * For a log with no witnesses, use a policy with `quorum none`.
 */
export function verifyTlogProof(
  receipt: string | Uint8Array | TlogProof,
  entry: Uint8Array,
  policy: Policy,
  opts: VerifyTlogProofOptions = {},
): VerifiedTlogProof {
  const p =
    typeof receipt === 'string' || receipt instanceof Uint8Array
      ? parseTlogProof(receipt, opts)
      : receipt;
  const { checkpoint, cosigners } = verifyCheckpointWithPolicy(p.checkpoint, policy, opts);

  if (p.index >= checkpoint.size) {
    throw new TlogError('TLOGPROOF_INDEX_OUT_OF_RANGE', 'index is not below the checkpoint size', {
      evidence: {
        index: p.index.toString(),
        size: checkpoint.size.toString(),
        origin: checkpoint.origin,
      },
    });
  }
  const leafHash = hashLeaf(entry);
  try {
    // RFC 6962 §2.1.1
    verifyInclusion(leafHash, p.index, checkpoint.size, p.proof, checkpoint.rootHash);
  } catch (cause) {
    throw new TlogError('TLOGPROOF_INCLUSION_INVALID', 'entry is not included at this index', {
      cause,
      // Everything a third party needs to redo the computation.
      evidence: {
        origin: checkpoint.origin,
        size: checkpoint.size.toString(),
        rootHash: encodeBase64(checkpoint.rootHash),
        index: p.index.toString(),
        leafHash: encodeBase64(leafHash),
        proof: p.proof.map(encodeBase64),
      },
    });
  }
  return { checkpoint, index: p.index, cosigners, extra: p.extra };
}

function decodeReceipt(input: string | Uint8Array, maxSize: number): string {
  if (typeof input === 'string') {
    // UTF-8 never takes fewer bytes than UTF-16 code units, so this bounds
    // the work before encoding a huge string.
    if (input.length > maxSize || new TextEncoder().encode(input).length > maxSize) {
      throw new TlogError('TLOGPROOF_TOO_LARGE', `receipt is larger than ${maxSize} bytes`, {
        evidence: { maxSize },
      });
    }
    return input;
  }
  if (input.length > maxSize) {
    throw new TlogError('TLOGPROOF_TOO_LARGE', `receipt is larger than ${maxSize} bytes`, {
      evidence: { size: input.length, maxSize },
    });
  }
  try {
    // The checkpoint is a signed note, which MUST be valid UTF-8. c2sp.org/signed-note
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
  } catch (cause) {
    throw new TlogError('TLOGPROOF_NOT_UTF8', 'receipt is not valid UTF-8', { cause });
  }
}

function parseIndex(line: string): bigint | undefined {
  const m = /^index (0|[1-9][0-9]{0,19})$/.exec(line);
  if (m?.[1] === undefined) return undefined;
  const index = BigInt(m[1]);
  return index <= MAX_UINT64 ? index : undefined;
}
