/**
 * `npm run bench` in packages/tlog: one table, every number measured in this
 * run, next to the baseline (raw SHA-256 of small inputs) so that the ratio
 * means something on a noisy machine.
 */
import * as crypto from 'node:crypto';
import { type RateRow, measure, printRateTable, rawSha256Rate } from '@glasshouse/bench-kit';
import {
  CompactRange,
  generateSignerKey,
  hashLeaf,
  inclusionProof,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifyInclusion,
  type HashReader,
} from '../src/index.js';

async function main(): Promise<void> {
  const rows: RateRow[] = [];

  // Baseline: the fastest SHA-256 this Node offers for one small input.
  const { rate: rawRate, how } = rawSha256Rate();
  rows.push({
    what: 'raw SHA-256, 65-byte input (baseline)',
    rate: rawRate,
    unit: 'hashes/s',
    note: how,
  });

  // Leaf appends into the incremental tree: 1,000,000 precomputed leaf hashes.
  const leaves = Array.from({ length: 1 << 20 }, (_, i) => hashLeaf(Buffer.from(`entry ${i}`)));
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const tree = new CompactRange();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 1_000_000; i++) tree.append(leaves[i]!);
    tree.root();
    runs.push((1_000_000 / Number(process.hrtime.bigint() - t0)) * 1e9);
  }
  const appendRate = Math.max(...runs);
  rows.push({
    what: 'tree appends, 1,000,000 leaves',
    rate: appendRate,
    unit: 'appends/s',
    note: `${((appendRate / rawRate) * 100).toFixed(0)}% of baseline (target ≥ 40%)`,
  });

  // Inclusion proofs verified at size 2^20, against an in-memory node store.
  const size = 1n << 20n;
  const levels: Uint8Array[][] = [leaves];
  for (let l = 0; l < 20; l++) {
    const below = levels[l]!;
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < below.length; i += 2)
      next.push(
        crypto
          .createHash('sha256')
          .update(Buffer.from([1]))
          .update(below[i]!)
          .update(below[i + 1]!)
          .digest(),
      );
    levels.push(next);
  }
  const root = levels[20]![0]!;
  const read: HashReader = (ids) => ids.map((id) => levels[id.level]![Number(id.index)]!);
  const samples = 1024;
  const proofs: { index: bigint; proof: Uint8Array[] }[] = [];
  {
    for (let s = 0; s < samples; s++) {
      const index = BigInt(Math.floor(Math.random() * Number(size)));
      proofs.push({ index, proof: await inclusionProof(index, size, read) });
    }
    const proofRate = measure((n) => {
      for (let i = 0; i < n; i++) {
        const p = proofs[i % samples]!;
        verifyInclusion(levels[0]![Number(p.index)]!, p.index, size, p.proof, root);
      }
    });
    rows.push({
      what: 'inclusion proofs verified, size 2^20',
      rate: proofRate,
      unit: 'proofs/s',
      note: `20 hashes each ≈ ${((proofRate * 20 * 100) / rawRate).toFixed(0)}% of baseline`,
    });

    // Signed notes (a checkpoint with one Ed25519 signature) opened and verified.
    const { signerKey, verifierKey } = generateSignerKey('bench.example/log');
    const signer = parseSignerKey(signerKey);
    const verifier = parseVerifierKey(verifierKey);
    const note = signNote(`bench.example/log\n${size}\n${Buffer.from(root).toString('base64')}\n`, [
      signer,
    ]);
    const noteRate = measure((n) => {
      for (let i = 0; i < n; i++) openNote(note, [verifier]);
    });
    rows.push({
      what: 'checkpoint notes verified (Ed25519)',
      rate: noteRate,
      unit: 'notes/s',
      note: '',
    });

    printTable(rows);
  }
}

function printTable(rows: RateRow[]): void {
  console.log(`node ${process.version}, ${process.arch}`);
  printRateTable(rows);
}

await main();
