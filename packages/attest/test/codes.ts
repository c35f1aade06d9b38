import { readFileSync, readdirSync } from 'node:fs';
import { AttestError, type AttestErrorCode } from '../src/errors.js';

/**
 * Runs `run` and returns the code of the AttestError it threw, or 'accepted'
 * when it returned. Any other exception is a bug and propagates, so a test
 * asserting a code fails on crashes as well as on wrong codes.
 */
export function codeOf(run: () => unknown): AttestErrorCode | 'accepted' {
  try {
    run();
    return 'accepted';
  } catch (err) {
    if (err instanceof AttestError) return err.code;
    throw err;
  }
}

export function readText(relative: string): string {
  return readFileSync(new URL(`../testdata/${relative}`, import.meta.url), 'utf8');
}

/** A JSON test vector under testdata/, parsed. */
export function readVector(relative: string): unknown {
  return JSON.parse(readText(relative)) as unknown;
}

/** The JSON files of a testdata directory, sorted. */
export function listVectors(dir: string): string[] {
  return readdirSync(new URL(`../testdata/${dir}/`, import.meta.url))
    .filter((f) => f.endsWith('.json'))
    .sort();
}
