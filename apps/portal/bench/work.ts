/**
 * The benchmark's work, run unchanged in Node (the node engine) and in
 * the browser (the browser engine, bundled by esbuild): verify a checkpoint with
 * its cosignatures against a policy, and verify 1,000 inclusion proofs
 * under its root. Inputs arrive as strings (they cross into the page as
 * JSON); decoding happens before the clock starts.
 */
import {
  decodeBase64Strict,
  parsePolicy,
  verifyCheckpointWithPolicy,
  verifyInclusion,
} from '@glasshouse/tlog';

export interface BenchInput {
  readonly note: string;
  readonly policy: string;
  /** POSIX seconds, decimal. */
  readonly now: string;
  readonly size: string;
  readonly root: string;
  readonly proofs: readonly { index: string; leafHash: string; proof: readonly string[] }[];
}

export interface BenchTimes {
  /** Milliseconds per checkpoint verification (log signature, cosignatures, quorum), one per run. */
  readonly checkpointMs: number[];
  /** Milliseconds for all the inclusion proofs, one per run. */
  readonly inclusionMs: number[];
}

function bytes(b64: string): Uint8Array {
  const b = decodeBase64Strict(b64);
  if (b === undefined) throw new Error(`not base64: ${b64}`);
  return b;
}

export function runWork(input: BenchInput, runs: number): BenchTimes {
  const policy = parsePolicy(input.policy);
  const now = BigInt(input.now);
  const size = BigInt(input.size);
  const root = bytes(input.root);
  const proofs = input.proofs.map((p) => ({
    index: BigInt(p.index),
    leafHash: bytes(p.leafHash),
    proof: p.proof.map(bytes),
  }));
  const checkpointMs: number[] = [];
  const inclusionMs: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const v = verifyCheckpointWithPolicy(input.note, policy, { now });
    checkpointMs.push(performance.now() - t0);
    if (v.checkpoint.size !== size) throw new Error('checkpoint size');
    const t1 = performance.now();
    for (const p of proofs) verifyInclusion(p.leafHash, p.index, size, p.proof, root);
    inclusionMs.push(performance.now() - t1);
  }
  return { checkpointMs, inclusionMs };
}
