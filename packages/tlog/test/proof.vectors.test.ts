import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TlogError } from '../src/errors.js';
import type { MerkleErrorCode } from '../src/errors.js';
import { verifyConsistency, verifyInclusion } from '../src/proof.js';

// RFC 6962 vectors from transparency-dev/merkle (see testdata/rfc6962/NOTICE).
const root = fileURLToPath(new URL('../testdata/rfc6962/', import.meta.url));

// What is on disk today; a missing or renamed directory must fail the run
// rather than silently shrink it.
const INCLUSION_CASES = 98;
const CONSISTENCY_CASES = 98;

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .map((f) => join(dir, f))
    .sort();
}

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

function load(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

const MERKLE_CODES: readonly MerkleErrorCode[] = [
  'INDEX_OUT_OF_RANGE',
  'SIZE_OUT_OF_RANGE',
  'HASH_WRONG_LENGTH',
  'PROOF_WRONG_LENGTH',
  'INCLUSION_PROOF_INVALID',
  'CONSISTENCY_PROOF_INVALID',
];

function expectOutcome(run: () => void, wantErr: boolean): void {
  if (!wantErr) {
    expect(run).not.toThrow();
    return;
  }
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TlogError);
  expect(MERKLE_CODES).toContain((caught as TlogError).code);
}

const inclusionFiles = jsonFiles(join(root, 'inclusion'));
const consistencyFiles = jsonFiles(join(root, 'consistency'));

describe('RFC 6962 inclusion vectors', () => {
  it('picks up every case', () => {
    expect(inclusionFiles.length).toBeGreaterThanOrEqual(INCLUSION_CASES);
  });

  it.each(inclusionFiles.map((f) => [relative(root, f), f]))('%s', (_name, file) => {
    const v = load(file);
    const proof = ((v.proof ?? []) as string[]).map(b64);
    expectOutcome(() => {
      verifyInclusion(
        b64(v.leafHash as string),
        BigInt(v.leafIdx as number),
        BigInt(v.treeSize as number),
        proof,
        b64(v.root as string),
      );
    }, v.wantErr as boolean);
  });
});

describe('RFC 6962 consistency vectors', () => {
  it('picks up every case', () => {
    expect(consistencyFiles.length).toBeGreaterThanOrEqual(CONSISTENCY_CASES);
  });

  it.each(consistencyFiles.map((f) => [relative(root, f), f]))('%s', (_name, file) => {
    const v = load(file);
    const proof = ((v.proof ?? []) as string[]).map(b64);
    expectOutcome(() => {
      verifyConsistency(
        BigInt(v.size1 as number),
        BigInt(v.size2 as number),
        proof,
        b64(v.root1 as string),
        b64(v.root2 as string),
      );
    }, v.wantErr as boolean);
  });
});
