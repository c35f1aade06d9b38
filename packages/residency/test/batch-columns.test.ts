// parseBatchColumns answers what parseBatch answers: its byte scanner may only be stricter (then
// parseBatch decides), never looser, and its columns are parseBatch's values.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64Bytes, fromBase64, toBase64 } from '../src/bytes.js';
import { scanColumns } from '../src/batch-columns.js';
import {
  BATCH_SCHEMA,
  type BatchColumns,
  type TelemetryBatch,
  encodeBatch,
  parseBatch,
  parseBatchColumns,
  parseBatchSummary,
} from './helpers.js';

const hex = (n: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength: n, maxLength: n });
const b64 = (min: number, max: number): fc.Arbitrary<string> =>
  fc.uint8Array({ minLength: min, maxLength: max }).map(toBase64);

const eventArb = fc.record({
  sha256: hex(64),
  rule: fc.option(fc.constantFrom('Eicar_Test', 'ns:Rule.1', 'r-2', '_x'), { nil: null }),
  verdict: fc.constantFrom('malicious', 'suspicious', 'clean', 'unknown' as const),
  timeBucket: fc.constantFrom(
    '2026-12-04T17:00:00Z',
    '2024-02-29T23:00:00Z',
    '2026-01-01T00:00:00Z',
  ),
  personal: b64(28, 200),
});

const batchArb: fc.Arbitrary<TelemetryBatch> = fc.record({
  schema: fc.constant(BATCH_SCHEMA),
  batchId: hex(32),
  customer: hex(32).map((h) => `c-${h}`),
  region: fc.constantFrom('EU', 'NA', 'KR', 'OTHER-X'),
  productVersion: fc.constantFrom('1.0.0', '2.3.4+build_7', 'x'),
  createdAt: fc.constantFrom('2026-12-04T17:10:00Z', '2026-12-04T17:10:00.123456789Z'),
  sealedKey: b64(80, 80),
  keyRelease: hex(16),
  events: fc.array(eventArb, { minLength: 1, maxLength: 12 }),
});

/** parseBatch's value as columns, built here independently of the scanner. */
function expected(bytes: Uint8Array): BatchColumns {
  const batch = parseBatch(bytes);
  const decoded = batch.events.map((e) => fromBase64(e.personal)!);
  const offsets = [0];
  for (const d of decoded) offsets.push(offsets.at(-1)! + d.length);
  return {
    batchId: batch.batchId,
    customer: batch.customer,
    region: batch.region,
    productVersion: batch.productVersion,
    createdAt: batch.createdAt,
    keyRelease: batch.keyRelease,
    sealedKey: fromBase64(batch.sealedKey)!,
    sha256: batch.events.map((e) => e.sha256),
    rule: batch.events.map((e) => e.rule),
    verdict: batch.events.map((e) => e.verdict),
    timeBucket: batch.events.map((e) => e.timeBucket),
    personal: Uint8Array.from(decoded.flatMap((d) => [...d])),
    offsets: Uint32Array.from(offsets),
  };
}

/** Plain arrays, so typed-array views with different buffers compare by content. */
function plain(c: BatchColumns): unknown {
  return { ...c, sealedKey: [...c.sealedKey], personal: [...c.personal], offsets: [...c.offsets] };
}

/** The code parseBatch throws for `bytes`, or 'ok'. */
function outcome(parse: (b: Uint8Array) => unknown, bytes: Uint8Array): string {
  try {
    parse(bytes);
    return 'ok';
  } catch (err) {
    return String((err as { code?: unknown }).code);
  }
}

describe('parseBatchColumns', () => {
  it('scans every valid batch on the fast path, into parseBatch values', () => {
    fc.assert(
      fc.property(batchArb, (batch) => {
        const bytes = encodeBatch(batch);
        const scanned = scanColumns(bytes);
        expect(scanned).toBeDefined();
        expect(plain(scanned!)).toEqual(plain(expected(bytes)));
        expect(plain(parseBatchColumns(bytes))).toEqual(plain(expected(bytes)));
        const want = expected(bytes);
        expect(parseBatchSummary(bytes)).toEqual({
          customer: want.customer,
          region: want.region,
          events: want.sha256.length,
        });
        // Checked, not decoded: the same sizes, no bytes.
        const checked = scanColumns(bytes, false);
        expect([...(checked?.offsets ?? [])]).toEqual([...want.offsets]);
        expect(checked?.personal.length).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('never accepts what parseBatch refuses, and refuses with its code (mutated batches)', () => {
    const mutation = fc.tuple(
      batchArb,
      fc.nat(),
      fc.constantFrom('flip', 'delete', 'insert', 'truncate'),
      fc.integer({ min: 0, max: 255 }),
    );
    fc.assert(
      fc.property(mutation, ([batch, where, how, byte]) => {
        const good = encodeBatch(batch);
        const i = where % good.length;
        const bytes =
          how === 'flip'
            ? Uint8Array.from(good, (b, j) => (j === i ? b ^ (byte || 1) : b))
            : how === 'delete'
              ? Uint8Array.from([...good.subarray(0, i), ...good.subarray(i + 1)])
              : how === 'insert'
                ? Uint8Array.from([...good.subarray(0, i), byte, ...good.subarray(i)])
                : good.subarray(0, i);
        const slow = outcome(parseBatch, bytes);
        expect(outcome(parseBatchColumns, bytes)).toBe(slow);
        expect(outcome(parseBatchSummary, bytes)).toBe(slow);
        const scanned = scanColumns(bytes);
        if (scanned !== undefined) {
          expect(slow).toBe('ok');
          expect(plain(scanned)).toEqual(plain(expected(bytes)));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('falls back to parseBatch off the canonical path, with its codes', () => {
    const batch = fc.sample(batchArb, 1)[0]!;
    const text = new TextDecoder().decode(encodeBatch(batch));
    const enc = (t: string): Uint8Array => new TextEncoder().encode(t);
    const cases: [string, string][] = [
      ['whitespace', text.replace('{"schema"', '{ "schema"')],
      [
        'an escaped character',
        text.replace(
          `"${batch.region}"`,
          `"\\u00${batch.region.charCodeAt(0).toString(16)}${batch.region.slice(1)}"`,
        ),
      ],
      ['an unknown event field', text.replace('{"sha256"', '{"x":1,"sha256"')],
      ['no final newline', text.slice(0, -1)],
      ['bytes after the batch', `${text}x`],
      [
        'a time not on the hour',
        text.replace(/"timeBucket":"(\d{4}-\d{2}-\d{2}T\d{2}):00/, '"timeBucket":"$1:30'),
      ],
      [
        'a day that does not exist',
        text.replace(/"timeBucket":"\d{4}-\d{2}-\d{2}/, '"timeBucket":"2026-02-30'),
      ],
      ['an empty event list', text.replace(/"events":\[.*\]\}\n$/, '"events":[]}\n')],
      [
        'a short sealed key',
        text.replace(/"sealedKey":"[^"]*"/, `"sealedKey":"${toBase64(new Uint8Array(79))}"`),
      ],
      [
        'a personal field under 28 bytes',
        text.replace(/"personal":"[^"]*"/, `"personal":"${toBase64(new Uint8Array(27))}"`),
      ],
      [
        'base64 with non-zero unused bits',
        text.replace(/"personal":"[^"]*"/, `"personal":"${'A'.repeat(36)}AB=="`),
      ],
      ['a non-ASCII byte', text.replace(`"${batch.productVersion}"`, `"${batch.productVersion}é"`)],
    ];
    for (const [what, bad] of cases) {
      expect(bad, what).not.toBe(text);
      const bytes = enc(bad);
      expect(scanColumns(bytes), what).toBeUndefined();
      expect(outcome(parseBatchColumns, bytes), what).toBe(outcome(parseBatch, bytes));
      expect(outcome(parseBatch, bytes), what).not.toBe('ok');
    }
    const many = { ...batch, events: Array.from({ length: 1001 }, () => batch.events[0]!) };
    const tooMany = enc(
      text.replace(/"events":\[.*\]\}\n$/, `"events":${JSON.stringify(many.events)}}\n`),
    );
    expect(scanColumns(tooMany)).toBeUndefined();
    expect(outcome(parseBatchColumns, tooMany)).toBe('BATCH_TOO_LARGE');
  });
});

describe('decodeBase64Bytes', () => {
  it('decodes exactly the strict base64 the platform decodes and re-encodes unchanged, and refuses the rest', () => {
    const text = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map(toBase64),
      fc.string({
        unit: fc.constantFrom('A', 'Q', 'g', 'w', '+', '/', '=', '\\', '"', 'é'),
        maxLength: 16,
      }),
    );
    fc.assert(
      fc.property(text, fc.nat(8), (t, at) => {
        const bytes = new TextEncoder().encode(`"${t}"`);
        const out = new Uint8Array(at + 64);
        const n = decodeBase64Bytes(bytes, 1, bytes.length - 1, out, at);
        // An independent oracle: strict base64 is what decodes and encodes back to the same text.
        const platform = Buffer.from(t, 'base64');
        const want = platform.toString('base64') === t ? [...platform] : undefined;
        expect(fromBase64(t) === undefined ? undefined : [...(fromBase64(t) ?? [])]).toEqual(want);
        if (want === undefined) expect(n).toBe(-1);
        else expect([...out.subarray(at, at + n)]).toEqual(want);
        // Checking alone answers the same.
        expect(decodeBase64Bytes(bytes, 1, bytes.length - 1, undefined, 0)).toBe(
          want === undefined ? -1 : want.length,
        );
      }),
      { numRuns: 3000 },
    );
  });
});
