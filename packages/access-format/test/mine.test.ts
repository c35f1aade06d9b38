/**
 * checkMine, the I/O-free `access mine`, against two in-memory tlog-tiles
 * logs (the access log and the index output log, each signed and cosigned
 * to its policy) and an index service built from the real AccessIndex: it
 * passes on an honest world, remembers what it saw, and refuses each way
 * an index or a log can lie, with its code.
 */
import { describe, expect, it } from 'vitest';
import { cosignatureSigner, encodeBase64, generateCosignerKey } from '@glasshouse/tlog';
import {
  AccessIndex,
  checkMine,
  encodeOutputEntry,
  lookupProofJson,
  MINE_STEPS,
  type MineReader,
  type MineState,
  type MineStep,
} from '../src/index.js';
import { MemoryLog } from '../../tlog/test/memory-log.js';
import { customer, recordBytes } from './fixtures.js';

const NOW = new Date('2026-12-05T00:00:00Z');
const nowSeconds = BigInt(NOW.getTime() / 1000);
const witness = generateCosignerKey('witness.example/w');
const cosigner = cosignatureSigner(witness.signerKey, () => nowSeconds);

/** The access log, an index over it that publishes a revision per checkpoint, and the lookup it serves. */
class World {
  readonly access = new MemoryLog('example.com/access', {
    verifierKey: witness.verifierKey,
    signer: cosigner,
  });
  readonly output = new MemoryLog('example.com/access-index', {
    verifierKey: witness.verifierKey,
    signer: cosigner,
  });
  readonly index = new AccessIndex();
  readonly counters = new Map<number, number>();
  /** What the index service serves: a revision's index, its output-log entry and index there. */
  served: { index: AccessIndex; entry: Uint8Array; outputIndex: bigint } | undefined;

  /** Appends an access to customer n's data (or another entry), publishes both logs. */
  add(...owners: number[]): void {
    for (const n of owners) {
      const counter = (this.counters.get(n) ?? 0) + 1;
      this.counters.set(n, counter);
      this.access.entries.push(recordBytes({ customer: customer(n), counter }));
    }
    this.access.publish();
    this.index.appendEntries(this.index.size, this.access.entries.slice(Number(this.index.size)));
    this.publishIndex(this.index);
  }

  /** Logs `index`'s revision of the access log as it is now, and serves lookups from it. */
  publishIndex(index: AccessIndex): void {
    const entry = encodeOutputEntry({
      schema: 'glasshouse.access-index/v1',
      log: this.access.origin,
      size: this.access.size,
      logRoot: this.access.root(),
      indexRoot: index.root(),
    });
    this.output.entries.push(entry);
    this.output.publish();
    this.served = { index, entry, outputIndex: this.output.size - 1n };
  }

  answer(c: string): Record<string, unknown> {
    const { indices, proof } = (this.served?.index ?? this.index).lookup(c);
    return {
      customer: c,
      outputIndex: String(this.served?.outputIndex),
      entry: encodeBase64(this.served?.entry ?? new Uint8Array()),
      indices: indices.map(String),
      proof: lookupProofJson(proof),
    };
  }

  reader(change: (answer: Record<string, unknown>) => unknown = (a) => a): MineReader {
    return {
      accessLog: this.access.get,
      outputLog: this.output.get,
      lookup: (c) =>
        Promise.resolve({
          status: 200,
          body: new TextEncoder().encode(JSON.stringify(change(this.answer(c)))),
        }),
    };
  }

  run(n: number, reader: MineReader, state?: MineState, known?: bigint[]) {
    const steps: MineStep[] = [];
    return {
      steps,
      result: checkMine(
        {
          customer: customer(n),
          accessLogPolicy: this.access.policy,
          outputLogPolicy: this.output.policy,
          ...(state === undefined ? {} : { state }),
          ...(known === undefined ? {} : { known }),
          now: NOW,
          onStep: (s) => steps.push(s),
        },
        reader,
      ),
    };
  }
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('checkMine', () => {
  it("lists every access to the customer's data, each step reported, and extends what it saw", async () => {
    const w = new World();
    w.add(1, 2, 1);
    w.add(3, 1);
    const first = w.run(1, w.reader());
    const r = await first.result;
    expect(r.records.map((a) => [a.index, a.record.counter])).toEqual([
      [0n, 1],
      [2n, 2],
      [4n, 3],
    ]);
    expect(r.size).toBe(5n);
    expect(first.steps.map((s) => s.id)).toEqual(MINE_STEPS);
    expect(first.steps.at(-1)?.summary).toBe(
      'these are all 3 accesses to your data up to access-log size 5',
    );
    // The state is plain JSON, and the next run starts from it.
    const state = JSON.parse(JSON.stringify(r.state)) as MineState;
    expect(Object.keys(state.revisions)).toEqual(['3', '5']);
    // A customer with no access gets a verified empty list.
    expect((await w.run(9, w.reader()).result).records).toEqual([]);

    w.add(1, 1); // across a bundle boundary is covered below; here: growth of both logs
    const second = await w.run(1, w.reader(), state).result;
    expect(second.records.map((a) => a.record.counter)).toEqual([1, 2, 3, 4, 5]);
    expect(second.state.listed?.size).toBe('7');
  });

  it('reads across entry bundles and partial tiles (300 entries)', async () => {
    const w = new World();
    w.add(...Array.from({ length: 299 }, (_, i) => (i % 7 === 0 ? 1 : 2)));
    w.add(1);
    const r = await w.run(1, w.reader()).result;
    expect(r.records).toHaveLength(44);
    expect(r.records.at(-1)?.index).toBe(299n);
  });

  it('refuses an answer with one of the customer record indices removed (LOOKUP_PROOF_MISMATCH)', async () => {
    const w = new World();
    w.add(1, 2, 1, 1);
    const run = w.run(
      1,
      w.reader((a) => ({ ...a, indices: (a.indices as string[]).filter((i) => i !== '2') })),
    );
    expect(await code(run.result)).toBe('LOOKUP_PROOF_MISMATCH');
    expect(run.steps.map((s) => s.id)).toEqual(['output-log', 'lookup', 'access-log', 'inclusion']);
  });

  it('refuses an index built without one of the records (RECORD_OMITTED), and one known otherwise', async () => {
    const w = new World();
    w.add(1, 2);
    // The operator's index skips entry 2 (an access to customer 1's data).
    w.access.entries.push(recordBytes({ customer: customer(1), counter: 2 }));
    w.access.entries.push(recordBytes({ customer: customer(1), counter: 3 }));
    w.access.publish();
    w.index.appendKey(null);
    w.index.appendKey(customer(1));
    w.publishIndex(w.index);
    expect(await code(w.run(1, w.reader()).result)).toBe('RECORD_OMITTED');
  });

  it('refuses a record it listed before going missing, across runs (RECORD_OMITTED)', async () => {
    const w = new World();
    w.add(1, 2, 1);
    const { state } = await w.run(1, w.reader()).result;
    expect(state.listed?.indices).toEqual(['0', '2']);
    // The next revision is built without entry 2: customer 1's counters alone (1) show no gap.
    w.access.entries.push(recordBytes({ customer: customer(2), counter: 2 }));
    w.access.publish();
    const rogue = new AccessIndex();
    for (const key of [customer(1), customer(2), null, customer(2)]) rogue.appendKey(key);
    w.publishIndex(rogue);
    expect((await w.run(1, w.reader()).result).records).toHaveLength(1);
    expect(await code(w.run(1, w.reader(), state).result)).toBe('RECORD_OMITTED');
    // Known from a receipt, but the index lists nothing for this customer.
    expect(await code(w.run(3, w.reader(), undefined, [1n]).result)).toBe('RECORD_OMITTED');
  });

  it('refuses an answer from a revision that is not in the output log (OUTPUT_ENTRY_NOT_LOGGED)', async () => {
    const w = new World();
    w.add(1);
    const other = encodeOutputEntry({
      schema: 'glasshouse.access-index/v1',
      log: w.access.origin,
      size: 7n,
      logRoot: new Uint8Array(32).fill(1),
      indexRoot: new Uint8Array(32).fill(2),
    });
    const run = w.run(
      1,
      w.reader((a) => ({ ...a, entry: encodeBase64(other) })),
    );
    expect(await code(run.result)).toBe('OUTPUT_ENTRY_NOT_LOGGED');
  });

  it('refuses a fork: two index roots at one access-log size (INDEX_FORK)', async () => {
    const w = new World();
    w.add(1);
    const forked = encodeOutputEntry({
      schema: 'glasshouse.access-index/v1',
      log: w.access.origin,
      size: 1n,
      logRoot: w.access.root(),
      indexRoot: new Uint8Array(32).fill(3),
    });
    w.output.entries.push(forked);
    w.output.publish();
    expect(await code(w.run(1, w.reader()).result)).toBe('INDEX_FORK');
  });

  it('refuses a rolled-back or forked log against the remembered state', async () => {
    const w = new World();
    w.add(1, 1);
    const { state } = await w.run(1, w.reader()).result;
    // The output log is served as a smaller tree than the one seen.
    const older = new World();
    older.add(1);
    const rolledBack: MineReader = { ...w.reader(), outputLog: older.output.get };
    expect(await code(w.run(1, rolledBack, state).result)).toBe('OUTPUT_LOG_INVALID');
    // An access log with another history at the size seen.
    const forkedAccess: MineReader = { ...w.reader(), accessLog: older.access.get };
    expect(await code(w.run(1, forkedAccess, state).result)).toBe('ACCESS_LOG_INVALID');
  });

  it('refuses a checkpoint without the witness quorum, a modified tile and an unreachable log', async () => {
    const w = new World();
    w.add(1, 2);
    const unwitnessed: MineReader = {
      ...w.reader(),
      accessLog: async (path) => {
        const bytes = await w.access.get(path);
        if (path !== 'checkpoint') return bytes;
        const note = new TextDecoder().decode(bytes);
        return new TextEncoder().encode(note.replace(/^— witness\.example\/w .*\n/m, ''));
      },
    };
    expect(await code(w.run(1, unwitnessed).result)).toBe('ACCESS_LOG_INVALID');
    const flipped: MineReader = {
      ...w.reader(),
      outputLog: async (path) => {
        const bytes = await w.output.get(path);
        if (path.startsWith('tile/entries/')) bytes[bytes.length - 1] = (bytes.at(-1) ?? 0) ^ 1;
        return bytes;
      },
    };
    expect(await code(w.run(1, flipped).result)).toBe('OUTPUT_LOG_INVALID');
    const down: MineReader = { ...w.reader(), accessLog: () => Promise.reject(new Error('down')) };
    expect(await code(w.run(1, down).result)).toBe('ACCESS_LOG_UNREACHABLE');
  });

  it('refuses bad input: not a pseudonym, a malformed answer, a state of another customer', async () => {
    const w = new World();
    w.add(1);
    const bad = checkMine(
      {
        customer: 'acme',
        accessLogPolicy: w.access.policy,
        outputLogPolicy: w.output.policy,
        now: NOW,
      },
      w.reader(),
    );
    expect(await code(bad)).toBe('MINE_INPUT_INVALID');
    expect(
      await code(
        w.run(
          1,
          w.reader(() => ({ customer: customer(1) })),
        ).result,
      ),
    ).toBe('INDEX_ANSWER_INVALID');
    const notFound: MineReader = {
      ...w.reader(),
      lookup: () => Promise.resolve({ status: 503, body: new Uint8Array() }),
    };
    expect(await code(w.run(1, notFound).result)).toBe('INDEX_UNREACHABLE');
    const { state } = await w.run(1, w.reader()).result;
    expect(await code(w.run(2, w.reader(), state).result)).toBe('MINE_STATE_INVALID');
  });
});
