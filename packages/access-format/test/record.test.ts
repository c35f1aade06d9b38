import { describe, expect, it } from 'vitest';
import {
  accessRecordDigest,
  encodeAccessRecord,
  MAX_ACCESS_RECORD_BYTES,
  parseAccessRecord,
  principalPseudonym,
  type AccessRecord,
} from '../src/index.js';
import { batchDigest, record, recordBytes } from './fixtures.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

const text = (r: Partial<AccessRecord>): string => new TextDecoder().decode(recordBytes(r));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Encodes a hand-edited record value the way the encoder would (key order kept). */
const raw = (value: unknown): Uint8Array => utf8(JSON.stringify(value));
const value = (): Record<string, unknown> => JSON.parse(text({})) as Record<string, unknown>;
const reorder = (): Record<string, unknown> => {
  const { schema, ...rest } = value();
  return { ...rest, schema };
};

describe('access record', () => {
  it('round-trips in canonical form, with a digest of the exact bytes', () => {
    const bytes = recordBytes();
    expect(parseAccessRecord(bytes)).toEqual(record());
    expect(encodeAccessRecord(parseAccessRecord(bytes))).toEqual(bytes);
    expect(accessRecordDigest(bytes)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(text({})).not.toContain('\n');
  });

  it('accepts each justification with its required detail, and a time range', () => {
    const ok: Partial<AccessRecord>[] = [
      { justification: { code: 'THREAT_INVESTIGATION', detail: 'campaign X' }, approval: null },
      { justification: { code: 'LEGAL_REQUEST', detail: 'court order', reference: 'ZH-2026/114' } },
      { justification: { code: 'SERVICE_OPERATION', detail: 'reindex' } },
      { justification: { code: 'SUPERVISOR_AUDIT', detail: 'quarterly audit' } },
      { justification: { code: 'BREAK_GLASS', detail: 'outage' }, approval: null },
      { scope: { kind: 'time-range', from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z' } },
    ];
    for (const r of ok) expect(parseAccessRecord(recordBytes(r))).toEqual(record(r));
  });

  it('derives principal pseudonyms like customer pseudonyms', () => {
    expect(principalPseudonym(new Uint8Array(32))).toMatch(/^p-[0-9a-f]{32}$/);
    expect(code(() => principalPseudonym(new Uint8Array(31)))).toBe('ACCESS_RECORD_INVALID');
  });

  it('refuses oversized entries', () => {
    const big = new Uint8Array(MAX_ACCESS_RECORD_BYTES + 1).fill(0x20);
    expect(code(() => parseAccessRecord(big))).toBe('ACCESS_RECORD_TOO_LARGE');
    const detail = 'x'.repeat(1024);
    const batches = Array.from({ length: 500 }, (_, i) => batchDigest(i)).sort();
    // 500 digests and the longest texts still fit in one entry.
    expect(
      parseAccessRecord(
        recordBytes({
          scope: { kind: 'batches', batches },
          justification: { code: 'SERVICE_OPERATION', detail },
        }),
      ).scope,
    ).toEqual({ kind: 'batches', batches });
  });

  it('refuses malformed records with ACCESS_RECORD_INVALID', () => {
    const bad: [string, Uint8Array][] = [
      ['not JSON', utf8('{')],
      ['not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d])],
      ['an array', utf8('[]')],
      ['whitespace', utf8(text({}).replace(',', ', '))],
      ['another key order', raw(reorder())],
      ['unknown field', raw({ ...value(), extra: 1 })],
      ['missing field', raw({ ...value(), counter: undefined })],
      ['other schema', raw({ ...value(), schema: 'glasshouse.access-record/v2' })],
      ['customer name', raw({ ...value(), customer: 'ACME Corp' })],
      ['bad site', raw({ ...value(), site: 'Zurich!' })],
      ['counter 0', raw({ ...value(), counter: 0 })],
      ['counter float', raw({ ...value(), counter: 1.5 })],
      ['local time', raw({ ...value(), time: '2026-12-04T10:00:00+01:00' })],
      ['bad approval', raw({ ...value(), approval: 'md5:00' })],
      [
        'accessor name',
        raw({ ...value(), accessor: { ...(value().accessor as object), principal: 'Jane Doe' } }),
      ],
      [
        'unknown country',
        raw({ ...value(), accessor: { ...(value().accessor as object), country: 'XX' } }),
      ],
      ['empty batches', raw({ ...value(), scope: { kind: 'batches', batches: [] } })],
      [
        'unsorted batches',
        raw({
          ...value(),
          scope: { kind: 'batches', batches: [batchDigest(1), batchDigest(2)].sort().reverse() },
        }),
      ],
      [
        'reversed range',
        raw({
          ...value(),
          scope: { kind: 'time-range', from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' },
        }),
      ],
      ['unknown scope', raw({ ...value(), scope: { kind: 'everything' } })],
      [
        'too many batches',
        raw({
          ...value(),
          scope: {
            kind: 'batches',
            batches: Array.from({ length: 501 }, (_, i) => batchDigest(i)).sort(),
          },
        }),
      ],
    ];
    for (const [what, bytes] of bad)
      expect([what, code(() => parseAccessRecord(bytes))]).toEqual([what, 'ACCESS_RECORD_INVALID']);
  });

  it('refuses justifications without their detail with JUSTIFICATION_INVALID', () => {
    const j = (justification: unknown): Uint8Array => raw({ ...value(), justification });
    const bad: [string, Uint8Array][] = [
      ['support without ticket', j({ code: 'CUSTOMER_INITIATED_SUPPORT', detail: 'x' })],
      ['legal without reference', j({ code: 'LEGAL_REQUEST', detail: 'x' })],
      ['ticket on another code', j({ code: 'THREAT_INVESTIGATION', detail: 'x', ticket: 'SUP-1' })],
      [
        'reference on another code',
        j({ code: 'SERVICE_OPERATION', detail: 'x', reference: 'R-1' }),
      ],
      ['unknown code', j({ code: 'CURIOSITY', detail: 'x' })],
      ['empty detail', j({ code: 'SERVICE_OPERATION', detail: '' })],
      ['control characters', j({ code: 'SERVICE_OPERATION', detail: 'a\nb' })],
      ['detail too long', j({ code: 'SERVICE_OPERATION', detail: 'x'.repeat(1025) })],
    ];
    for (const [what, bytes] of bad)
      expect([what, code(() => parseAccessRecord(bytes))]).toEqual([what, 'JUSTIFICATION_INVALID']);
    expect(
      code(() =>
        encodeAccessRecord(record({ justification: { code: 'LEGAL_REQUEST', detail: 'x' } })),
      ),
    ).toBe('JUSTIFICATION_INVALID');
  });
});
