import { describe, expect, it } from 'vitest';
import {
  AccessIndex,
  checkCompleteness,
  checkNoFork,
  encodeOutputEntry,
  parseOutputEntry,
  type OutputLogEntry,
} from '../src/index.js';
import { customer, recordBytes } from './fixtures.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

const ORIGIN = 'localhost/glasshouse/access';
const LOG_ROOT = new Uint8Array(32).fill(9);

/** An access log: entry i concerns customer `owners[i]`, counters per customer. */
function accessLog(owners: readonly number[]): Uint8Array[] {
  const counters = new Map<number, number>();
  return owners.map((n) => {
    const counter = (counters.get(n) ?? 0) + 1;
    counters.set(n, counter);
    return recordBytes({ customer: customer(n), counter });
  });
}

function outputEntry(index: AccessIndex): OutputLogEntry {
  const revision = index.revision();
  return parseOutputEntry(
    encodeOutputEntry({
      schema: 'glasshouse.access-index/v1',
      log: ORIGIN,
      size: revision.size,
      logRoot: LOG_ROOT,
      indexRoot: revision.root,
    }),
  );
}

const OWNERS = [1, 2, 1, 3, 1, 2, 1];

describe("a customer's completeness check", () => {
  const log = accessLog(OWNERS);
  const honest = new AccessIndex();
  honest.appendEntries(0n, log);
  const entry = outputEntry(honest);

  it('concludes: these are all the accesses to my data up to size N', () => {
    const { indices, proof } = honest.lookup(customer(1));
    expect(indices).toEqual([0n, 2n, 4n, 6n]);
    const result = checkCompleteness({
      entry,
      customer: customer(1),
      indices,
      proof,
      records: indices.map((i) => log[Number(i)]!),
      known: [2n],
      accessLog: { size: 7n, root: LOG_ROOT },
    });
    expect(result.size).toBe(7n);
    expect(result.records.map((r) => r.counter)).toEqual([1, 2, 3, 4]);
    // A customer without accesses gets a verified empty list.
    const none = honest.lookup(customer(9));
    expect(
      checkCompleteness({ entry, customer: customer(9), ...none, records: [] }).records,
    ).toEqual([]);
  });

  it('detects an index that omits one of the customer records (counter gap, or a known access)', () => {
    // The operator builds its index as if entry 2 concerned no one.
    const rogue = new AccessIndex();
    OWNERS.forEach((n, i) => {
      rogue.appendKey(i === 2 ? null : customer(n));
    });
    const rogueEntry = outputEntry(rogue);
    const { indices, proof } = rogue.lookup(customer(1));
    const input = {
      entry: rogueEntry,
      customer: customer(1),
      indices,
      proof,
      records: indices.map((i) => log[Number(i)]!),
    };
    expect(code(() => checkCompleteness(input))).toBe('RECORD_OMITTED');
    // The last record left out: no gap, but the customer holds its receipt.
    const tail = new AccessIndex();
    OWNERS.forEach((n, i) => {
      tail.appendKey(i === 6 ? null : customer(n));
    });
    const t = tail.lookup(customer(1));
    const tailInput = {
      entry: outputEntry(tail),
      customer: customer(1),
      ...t,
      records: t.indices.map((i) => log[Number(i)]!),
    };
    expect(checkCompleteness(tailInput).records).toHaveLength(3);
    expect(code(() => checkCompleteness({ ...tailInput, known: [6n] }))).toBe('RECORD_OMITTED');
  });

  it('detects a record hidden from the list served with an honest proof', () => {
    const { indices, proof } = honest.lookup(customer(1));
    const served = indices.filter((i) => i !== 4n);
    const input = {
      entry,
      customer: customer(1),
      indices: served,
      proof,
      records: served.map((i) => log[Number(i)]!),
    };
    expect(code(() => checkCompleteness(input))).toBe('LOOKUP_PROOF_MISMATCH');
  });

  it("detects another customer's record in the list", () => {
    const rogue = new AccessIndex();
    OWNERS.forEach((n, i) => {
      rogue.appendKey(i === 3 ? customer(1) : customer(n));
    });
    const { indices, proof } = rogue.lookup(customer(1));
    const input = {
      entry: outputEntry(rogue),
      customer: customer(1),
      indices,
      proof,
      records: indices.map((i) => log[Number(i)]!),
    };
    expect(code(() => checkCompleteness(input))).toBe('RECORD_FOREIGN');
  });

  it('detects a fork: two index roots at one input size', () => {
    const other = new AccessIndex();
    OWNERS.forEach((n, i) => {
      other.appendKey(i === 2 ? null : customer(n));
    });
    const forked = outputEntry(other);
    expect(
      code(() => {
        checkNoFork(entry, forked);
      }),
    ).toBe('INDEX_FORK');
    expect(
      code(() => {
        checkNoFork(entry, { ...entry, logRoot: new Uint8Array(32) });
      }),
    ).toBe('INDEX_FORK');
    checkNoFork(entry, entry);
    checkNoFork(entry, { ...forked, size: 6n });
  });

  it('detects an index over another access log, indices beyond the size, and missing records', () => {
    const { indices, proof } = honest.lookup(customer(1));
    const records = indices.map((i) => log[Number(i)]!);
    const base = { entry, customer: customer(1), indices, proof, records };
    expect(
      code(() => checkCompleteness({ ...base, accessLog: { size: 7n, root: new Uint8Array(32) } })),
    ).toBe('INPUT_CHECKPOINT_MISMATCH');
    expect(code(() => checkCompleteness({ ...base, entry: { ...entry, size: 6n } }))).toBe(
      'INDICES_INVALID',
    );
    expect(code(() => checkCompleteness({ ...base, records: records.slice(1) }))).toBe(
      'INDICES_INVALID',
    );
  });

  it('output-log entries round-trip and refuse malformed bytes', () => {
    const bytes = encodeOutputEntry(entry);
    expect(parseOutputEntry(bytes)).toEqual(entry);
    const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
    const v = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    const bad = [
      utf8('{'),
      utf8(JSON.stringify({ ...v, size: -1 })),
      utf8(JSON.stringify({ ...v, size: '7' })),
      utf8(JSON.stringify({ ...v, indexRoot: 'AAAA' })),
      utf8(JSON.stringify({ ...v, log: 'has space' })),
      utf8(JSON.stringify({ ...v, extra: true })),
      utf8(JSON.stringify(v, null, 1)),
      new Uint8Array(2000).fill(0x20),
    ];
    for (const b of bad) expect(code(() => parseOutputEntry(b))).toBe('OUTPUT_ENTRY_INVALID');
  });
});
