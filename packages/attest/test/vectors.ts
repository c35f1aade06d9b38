import { readFileSync, readdirSync } from 'node:fs';

/** Test vectors under testdata/. */
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
