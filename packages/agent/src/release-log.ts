/**
 * The release-log checks: the receipt (c2sp.org/tlog-proof) shows the
 * release's entry in a checkpoint that meets the witness policy, and that
 * checkpoint is consistent with the last one this agent saw (RFC 9162
 * §2.1.4), so a log that forked or rolled back is refused. The checks are
 * pure; proofs come from a {@link ConsistencyProofSource}.
 */
import { hasCode } from '@glasshouse/errors';
import { readBoundedText } from '@glasshouse/http';
import {
  decodeBase64Strict,
  encodeBase64,
  verifyConsistency,
  verifyTlogProof,
  type Checkpoint,
  type Policy,
  type VerifiedTlogProof,
} from '@glasshouse/tlog';
import { AgentError } from './errors.js';
import type { SeenCheckpoint } from './state.js';

/**
 * Where consistency proofs come from. MUST return the RFC 9162 §2.1.4.1
 * proof between the trees of `oldSize` and `newSize` leaves (0 < oldSize <
 * newSize), or throw; the answer is checked, never trusted.
 */
export type ConsistencyProofSource = (oldSize: bigint, newSize: bigint) => Promise<Uint8Array[]>;

/**
 * Verifies the receipt for the entry against the policy, mapping failures:
 * a quorum not met is AGENT_LOG_QUORUM_NOT_MET, an entry not at the
 * receipt's index AGENT_LOG_ENTRY_MISSING, anything else
 * AGENT_LOG_RECEIPT_INVALID.
 */
export function verifyReleaseReceipt(
  receipt: Uint8Array,
  entry: Uint8Array,
  policy: Policy,
): VerifiedTlogProof {
  try {
    return verifyTlogProof(receipt, entry, policy);
  } catch (cause) {
    // c2sp.org/tlog-policy: the cosignatures must satisfy the quorum.
    if (hasCode(cause, 'POLICY_QUORUM_NOT_MET')) {
      throw new AgentError('AGENT_LOG_QUORUM_NOT_MET', 'the receipt lacks the witness quorum', {
        cause,
      });
    }
    // RFC 9162 §2.1.3.2: this release's entry is not in the tree at that index.
    if (
      hasCode(cause, 'TLOGPROOF_INCLUSION_INVALID') ||
      hasCode(cause, 'TLOGPROOF_INDEX_OUT_OF_RANGE')
    ) {
      throw new AgentError(
        'AGENT_LOG_ENTRY_MISSING',
        "the release's entry is not in the release log at the receipt's index",
        { cause },
      );
    }
    throw new AgentError('AGENT_LOG_RECEIPT_INVALID', 'the release-log receipt does not verify', {
      cause,
    });
  }
}

/** The checkpoint as the agent keeps it. */
export function seenCheckpoint(checkpoint: Checkpoint, note: string): SeenCheckpoint {
  return {
    origin: checkpoint.origin,
    size: checkpoint.size.toString(),
    rootHash: encodeBase64(checkpoint.rootHash),
    note,
  };
}

/**
 * Checks that `fresh` and the last checkpoint seen describe one append-only
 * log and returns the larger of the two (the one to remember). Equal sizes
 * need equal roots; otherwise the smaller tree must be a prefix of the
 * larger (RFC 9162 §2.1.4.2), with a proof from `proofs`. AGENT_LOG_FORK
 * carries both checkpoints; AGENT_LOG_UNREACHABLE when no proof could be had.
 */
export async function checkConsistency(
  seen: SeenCheckpoint | undefined,
  fresh: SeenCheckpoint,
  proofs: ConsistencyProofSource,
): Promise<SeenCheckpoint> {
  if (seen === undefined) return fresh;
  const fork = (message: string, cause?: unknown): AgentError =>
    new AgentError('AGENT_LOG_FORK', message, {
      ...(cause === undefined ? {} : { cause }),
      evidence: { seen: seen.note, fresh: fresh.note },
    });
  if (seen.origin !== fresh.origin) throw fork('the checkpoint is from another log');
  const seenSize = BigInt(seen.size);
  const freshSize = BigInt(fresh.size);
  if (seenSize === freshSize) {
    // RFC 9162 §2.1.4: one size, one tree.
    if (seen.rootHash !== fresh.rootHash) throw fork('two different trees of the same size');
    return seen;
  }
  const [older, newer] = seenSize < freshSize ? [seen, fresh] : [fresh, seen];
  const oldSize = BigInt(older.size);
  const newSize = BigInt(newer.size);
  // Every tree extends the empty one. RFC 9162 §2.1.4.1 defines proofs for 0 < m only.
  if (oldSize === 0n) return newer;
  let proof: Uint8Array[];
  try {
    proof = await proofs(oldSize, newSize);
  } catch (cause) {
    throw new AgentError(
      'AGENT_LOG_UNREACHABLE',
      `no consistency proof from size ${oldSize} to ${newSize}`,
      { cause, evidence: { seen: seen.note, fresh: fresh.note } },
    );
  }
  try {
    // RFC 9162 §2.1.4.2
    verifyConsistency(oldSize, newSize, proof, root(older), root(newer));
  } catch (cause) {
    throw fork(`the log of size ${newSize} does not extend the one of size ${oldSize}`, cause);
  }
  return newer;
}

function root(cp: SeenCheckpoint): Uint8Array {
  const bytes = decodeBase64Strict(cp.rootHash);
  if (bytes === undefined) {
    throw new AgentError('AGENT_CONFIG_INVALID', 'a stored checkpoint has no valid root hash');
  }
  return bytes;
}

/** Most bytes of a consistency-proof answer (64 base64 hashes fit in a few KiB). */
const MAX_PROOF_ANSWER_BYTES = 64 * 1024;

/**
 * Consistency proofs over HTTP from the log's `GET proof/consistency?old=&new=`
 * (`@glasshouse/log`'s server), answer size bounded.
 */
export function httpConsistencyProofs(
  logUrl: string,
  fetchFn: typeof fetch = fetch,
): ConsistencyProofSource {
  return async (oldSize, newSize) => {
    const url = new URL(`proof/consistency?old=${oldSize}&new=${newSize}`, logUrl);
    const res = await fetchFn(url, { signal: AbortSignal.timeout(30_000) });
    const text = await readBoundedText(res, MAX_PROOF_ANSWER_BYTES);
    if (!res.ok) throw new Error(`${url.pathname}: HTTP ${res.status} ${text.slice(0, 200)}`);
    const body = JSON.parse(text) as { proof?: unknown };
    if (!Array.isArray(body.proof)) throw new Error('the answer has no proof');
    return body.proof.map((h: unknown) => {
      const bytes = typeof h === 'string' ? decodeBase64Strict(h) : undefined;
      if (bytes === undefined) throw new Error('a proof hash is not base64');
      return bytes;
    });
  };
}
