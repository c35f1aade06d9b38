import { readdirSync, readFileSync } from 'node:fs';
import { fromBase64 } from '@glasshouse/residency';
import { describe, expect, it } from 'vitest';
import { lookupProofFromJson, parseAccessRecord, verifyLookup } from '../src/index.js';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code ?? 'no code';
  }
  return 'ok';
}

const dir = (name: string): URL => new URL(`../testdata/${name}/`, import.meta.url);
const cases = (name: string): [string, Record<string, unknown>][] =>
  readdirSync(dir(name))
    .filter((f) => f.endsWith('.json'))
    .map((f) => [
      f,
      JSON.parse(readFileSync(new URL(f, dir(name)), 'utf8')) as Record<string, unknown>,
    ]);

describe('test vectors (testdata/, one case per file)', () => {
  it.each(cases('lookup'))('lookup %s', (_, c) => {
    const got = code(() => {
      verifyLookup(
        fromBase64(c.root as string)!,
        c.customer as string,
        (c.indices as string[]).map((i) => BigInt(i)),
        lookupProofFromJson(c.proof),
      );
    });
    expect(got).toBe(c.want);
  });

  it.each(cases('records'))('record %s', (_, c) => {
    expect(code(() => parseAccessRecord(new TextEncoder().encode(c.entry as string)))).toBe(c.want);
  });
});
