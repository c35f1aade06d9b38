/**
 * The monitor's checks of a checkpoint (steps 1 and 2 of a run, see
 * `monitor.ts`): pure verdicts, each an `AlertRaised` when it fails.
 */
import {
  type Checkpoint,
  type NoteVerifierKey,
  type Policy,
  TlogError,
  bytesEqual,
  consistencyProof,
  encodeBase64,
  openCheckpoint,
  tileHashReader,
  tilePath,
  tilesForConsistency,
  verifyCheckpointWithPolicy,
  verifyConsistency,
} from '@glasshouse/tlog';
import { AlertRaised, type AlertFactory } from './monitor-alerts.js';
import type { MonitorState } from './monitor-state.js';
import type { TilesFetcher } from './tiles-fetch.js';

/** Who must have signed a checkpoint: the log's key, and a policy's quorum if one is given. */
export interface CheckpointTrust {
  readonly verifier: NoteVerifierKey | undefined;
  readonly policy: Policy | undefined;
  /** The log's key as an extra policy log, unless the policy lists it already. */
  readonly extraLogs: readonly NoteVerifierKey[];
  readonly maxFutureSkewSeconds: number;
}

/**
 * Step 1: the log's signature (c2sp.org/signed-note, tlog-checkpoint) and,
 * with a policy, the witness quorum (c2sp.org/tlog-policy).
 */
export function verifyNote(
  note: Uint8Array,
  origin: string | undefined,
  trust: CheckpointTrust,
  alerts: AlertFactory,
): Checkpoint {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(note);
  try {
    if (trust.policy !== undefined) {
      const v = verifyCheckpointWithPolicy(note, trust.policy, {
        extraLogs: [...trust.extraLogs],
        now: BigInt(Math.floor(alerts.now().getTime() / 1000)),
        maxFutureSkew: BigInt(trust.maxFutureSkewSeconds),
      });
      const want = origin ?? trust.verifier?.name;
      if (want !== undefined && v.checkpoint.origin !== want) {
        throw new TlogError('CHECKPOINT_ORIGIN_MISMATCH', 'checkpoint is from another log', {
          evidence: { origin: v.checkpoint.origin, expected: want },
        });
      }
      return v.checkpoint;
    }
    // c2sp.org/tlog-policy: a log's key name is its origin.
    const v = trust.verifier as NoteVerifierKey;
    return openCheckpoint(note, [v], { origin: v.name }).checkpoint;
  } catch (err) {
    if (!(err instanceof TlogError)) throw err;
    const quorum = err.code === 'POLICY_QUORUM_NOT_MET';
    throw new AlertRaised(
      alerts.make(
        quorum ? 'quorum' : 'checkpoint-signature',
        quorum
          ? 'the checkpoint lacks the witness quorum the policy requires'
          : `the checkpoint does not verify: ${err.message}`,
        { checkpoint: text, error: { code: err.code, ...err.evidence } },
        { origin, code: err.code },
      ),
    );
  }
}

/**
 * Step 2 without the network: a smaller tree is a rollback, the same size
 * with another root a split view. True when the checkpoint is the verified
 * one again (nothing to do).
 */
export function isSameAsVerified(
  prev: MonitorState,
  cp: Checkpoint,
  noteText: string,
  alerts: AlertFactory,
): boolean {
  const both = { previous: prev.checkpoint, checkpoint: noteText };
  if (cp.size < prev.size) {
    throw new AlertRaised(
      alerts.make(
        'rollback',
        `the log went back from size ${prev.size} to ${cp.size}`,
        { ...both, previousSize: prev.size.toString(), size: cp.size.toString() },
        { origin: cp.origin },
      ),
    );
  }
  if (cp.size !== prev.size) return false;
  if (bytesEqual(cp.rootHash, prev.root)) return true;
  // c2sp.org/tlog-checkpoint: a log must never sign two checkpoints of one size with different roots.
  throw new AlertRaised(
    alerts.make(
      'split-view',
      `the log signed two different trees of size ${cp.size}`,
      {
        ...both,
        size: cp.size.toString(),
        previousRoot: encodeBase64(prev.root),
        root: encodeBase64(cp.rootHash),
      },
      { origin: cp.origin },
    ),
  );
}

/** Step 2, larger tree: RFC 9162 §2.1.4.2 consistency, proved from the new tree's hash tiles. */
export async function checkConsistency(
  prev: MonitorState,
  cp: Checkpoint,
  noteText: string,
  fetcher: TilesFetcher,
  alerts: AlertFactory,
  signal: AbortSignal | undefined,
): Promise<void> {
  const tiles = new Map<string, Uint8Array>();
  try {
    await Promise.all(
      tilesForConsistency(prev.size, cp.size).map(async (ref) => {
        if (ref.kind !== 'hash') return;
        const t = await fetcher.hashTile(ref.level, ref.index, ref.width, signal);
        tiles.set(tilePath(ref), t.data);
      }),
    );
  } catch (err) {
    throw alerts.fetchFailed(err, 'consistency tiles', cp.origin);
  }
  let proof: Uint8Array[] = [];
  try {
    proof = await consistencyProof(prev.size, cp.size, tileHashReader(cp.size, tiles));
    verifyConsistency(prev.size, cp.size, proof, prev.root, cp.rootHash);
  } catch (err) {
    if (!(err instanceof TlogError)) throw err;
    throw new AlertRaised(
      alerts.make(
        'inconsistent-checkpoint',
        `the tree of size ${cp.size} does not prove consistency with the verified size ${prev.size}`,
        {
          previous: prev.checkpoint,
          checkpoint: noteText,
          proof: proof.map(encodeBase64),
          error: { code: err.code, ...err.evidence },
        },
        { origin: cp.origin, code: err.code },
      ),
    );
  }
}
