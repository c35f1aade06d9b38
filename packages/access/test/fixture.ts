/**
 * Test fixture of the access half: a real witness (SQLite state, loopback
 * HTTP), a real access log and a real index output log (`@glasshouse/log`
 * on SQLite, served on loopback, both witnessed by that witness), and
 * helpers that build access records and append them to the access log.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { encodeAccessRecord, type AccessRecord } from '@glasshouse/access-format';
import { type Log, buildServer, initLog, openLog, openSqliteStorage } from '@glasshouse/log';
import {
  type Ed25519KeyPair,
  customerPseudonym,
  generateEd25519KeyPair,
} from '@glasshouse/residency';
import { generateCosignerKey, generateSignerKey, parsePolicy } from '@glasshouse/tlog';
import { buildWitnessServer, createWitness, openSqliteState } from '@glasshouse/witness';

export interface TestWitness {
  readonly verifierKey: string;
  readonly url: string;
  addLog(verifierKey: string): Promise<void>;
  close(): Promise<void>;
}

export async function startWitness(name = 'witness.example/w1'): Promise<TestWitness> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-access-witness-'));
  const state = await openSqliteState({ dir });
  const keys = generateCosignerKey(name);
  const witness = createWitness({
    cosigner: keys.signerKey,
    state,
    now: () => BigInt(Math.floor(Date.now() / 1000)),
  });
  const app = buildWitnessServer({ witness, state });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    verifierKey: keys.verifierKey,
    url,
    addLog: async (vkey) => {
      await witness.addLog(vkey);
    },
    close: async () => {
      await app.close();
      await state.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestLog {
  readonly origin: string;
  /** The log's prefix (write API and tlog-tiles read API). */
  readonly url: string;
  /** Its c2sp.org/tlog-policy: the log key and the witness quorum. */
  readonly policy: string;
  readonly log: Log;
  /** Appends an entry and waits for a witnessed checkpoint covering it. */
  append(entry: Uint8Array): Promise<bigint>;
  close(): Promise<void>;
}

export async function startLog(origin: string, witness: TestWitness): Promise<TestLog> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-access-log-'));
  const storage = await openSqliteStorage({ dir });
  const keys = generateSignerKey(origin);
  await initLog({ origin, signerKey: keys.signerKey, storage });
  await witness.addLog(keys.verifierKey);
  const policy = `log ${keys.verifierKey}\nwitness w1 ${witness.verifierKey} ${witness.url}\nquorum w1\n`;
  const log = await openLog({
    storage,
    signerKey: keys.signerKey,
    sequencer: { batchDelayMs: 2 },
    integrator: { intervalMs: 10, publishRetryMaxMs: 100 },
    witnessing: { policy: parsePolicy(policy), timeoutMs: 2_000, quorumGraceMs: 0 },
  });
  const app: FastifyInstance = buildServer({ log });
  const url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/`;
  return {
    origin,
    url,
    policy,
    log,
    append: async (entry) => {
      const { index } = await log.add(entry);
      await log.waitForCheckpoint(index, 10_000);
      return index;
    },
    close: async () => {
      await app.close();
      await log.close();
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface World {
  readonly witness: TestWitness;
  readonly accessLog: TestLog;
  readonly outputLog: TestLog;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const witness = await startWitness();
  const accessLog = await startLog('example.com/glasshouse/access-log', witness);
  const outputLog = await startLog('example.com/glasshouse/access-index', witness);
  return {
    witness,
    accessLog,
    outputLog,
    close: async () => {
      await outputLog.close();
      await accessLog.close();
      await witness.close();
    },
  };
}

export interface TestCustomer {
  readonly key: Ed25519KeyPair;
  readonly pseudonym: string;
}

export function newCustomer(): TestCustomer {
  const key = generateEd25519KeyPair();
  return { key, pseudonym: customerPseudonym(key.publicKey) };
}

const PRINCIPAL = `p-${'1'.repeat(32)}`;

/** A THREAT_INVESTIGATION record of telemetry events (no approval needed under the demo policy). */
export function record(
  customer: string,
  counter: number,
  over: Partial<AccessRecord> = {},
): AccessRecord {
  return {
    schema: 'glasshouse.access-record/v1',
    site: 'ch-zrh',
    customer,
    dataClass: 'telemetry-events',
    scope: { kind: 'time-range', from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z' },
    accessor: { principal: PRINCIPAL, entity: 'Vendor AG', country: 'CH', role: 'analyst' },
    justification: { code: 'THREAT_INVESTIGATION', detail: 'campaign review' },
    approval: null,
    time: '2026-12-04T10:00:00Z',
    counter,
    ...over,
  };
}

/** Appends records for `customers` in turn, each with its next counter; returns their indices. */
export async function appendAccesses(
  log: TestLog,
  customers: readonly string[],
  counters: Map<string, number> = new Map(),
): Promise<bigint[]> {
  const out: bigint[] = [];
  for (const c of customers) {
    const n = (counters.get(c) ?? 0) + 1;
    counters.set(c, n);
    const { index } = await log.log.add(encodeAccessRecord(record(c, n)));
    out.push(index);
  }
  const last = out[out.length - 1];
  if (last !== undefined) await log.log.waitForCheckpoint(last, 10_000);
  return out;
}
