/**
 * Test fixture: a real witness (`@glasshouse/witness`, SQLite state, loopback
 * HTTP) and a real residency log (`@glasshouse/log` on SQLite, served over
 * loopback, witnessed by that witness), with the vendor's and the
 * supervisor's residency keys and helpers that append policy and enrollment
 * entries signed for real.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import {
  type Ed25519KeyPair,
  type ResidencyPolicy,
  RESIDENCY_LOG_SCHEMA,
  type DsseEnvelope,
  type Site,
  customerPseudonym,
  encodeEnrollment,
  encodePolicy,
  encodePublicKey,
  encodeResidencyLogEntry,
  enrollmentEnvelope,
  enrollmentSigningMessage,
  generateEd25519KeyPair,
  keyId,
  policyEnvelope,
  policySigningMessage,
  signEd25519,
  type Enrollment,
  ENROLLMENT_SCHEMA,
} from '@glasshouse/residency';
import { type Log, buildServer, initLog, openLog, openSqliteStorage } from '@glasshouse/log';
import { generateCosignerKey, generateSignerKey, parsePolicy } from '@glasshouse/tlog';
import { buildWitnessServer, createWitness, openSqliteState } from '@glasshouse/witness';

export interface TestWitness {
  readonly name: string;
  readonly verifierKey: string;
  readonly url: string;
  /** Trust one more log (e.g. a site's ingest log). */
  addLog(verifierKey: string): Promise<void>;
  close(): Promise<void>;
}

export async function startWitness(name = 'witness.example/w1'): Promise<TestWitness> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-telemetry-witness-'));
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
    name,
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

/** The `witness` and `quorum` lines of a tlog-policy naming one witness. */
export function witnessLines(w: TestWitness): string {
  return `witness w1 ${w.verifierKey} ${w.url}\nquorum w1\n`;
}

export interface TestLog {
  readonly origin: string;
  readonly url: string;
  readonly verifierKey: string;
  /** The c2sp.org/tlog-policy verifiers pin: the log and the witness quorum. */
  readonly policy: string;
  readonly log: Log;
  close(): Promise<void>;
}

/**
 * A log on SQLite served on loopback. `witnessed: false` publishes every
 * signed checkpoint without cosignatures (a log that skips its witnesses).
 */
export async function startLog(
  origin: string,
  witness: TestWitness,
  opts: { witnessed?: boolean; keys?: { signerKey: string; verifierKey: string } } = {},
): Promise<TestLog> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-telemetry-log-'));
  const storage = await openSqliteStorage({ dir });
  const keys = opts.keys ?? generateSignerKey(origin);
  await initLog({ origin, signerKey: keys.signerKey, storage });
  await witness.addLog(keys.verifierKey);
  const policy = `log ${keys.verifierKey}\n${witnessLines(witness)}`;
  const log = await openLog({
    storage,
    signerKey: keys.signerKey,
    sequencer: { batchDelayMs: 2 },
    integrator: { intervalMs: 10, publishRetryMaxMs: 100 },
    ...(opts.witnessed === false
      ? {}
      : { witnessing: { policy: parsePolicy(policy), timeoutMs: 2_000, quorumGraceMs: 0 } }),
  });
  const app: FastifyInstance = buildServer({ log });
  const url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/`;
  return {
    origin,
    url,
    verifierKey: keys.verifierKey,
    policy,
    log,
    close: async () => {
      await app.close();
      await log.close();
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface Parties {
  readonly vendor: Ed25519KeyPair;
  readonly supervisor: Ed25519KeyPair;
}

export function parties(): Parties {
  return { vendor: generateEd25519KeyPair(), supervisor: generateEd25519KeyPair() };
}

/** A residency-log policy entry signed by `signers` (both parties by default). */
export function policyEntry(
  policy: ResidencyPolicy,
  signers: readonly Ed25519KeyPair[],
): Uint8Array {
  const payload = encodePolicy(policy);
  const message = policySigningMessage(payload);
  const text = policyEnvelope(
    payload,
    signers.map((k) => ({ keyid: keyId(k.publicKey), sig: signEd25519(k.seed, message) })),
  );
  return encodeResidencyLogEntry({
    schema: RESIDENCY_LOG_SCHEMA,
    kind: 'policy',
    envelope: JSON.parse(text) as DsseEnvelope,
  });
}

export interface TestCustomer {
  readonly key: Ed25519KeyPair;
  readonly id: string;
  readonly region: string;
}

export function customer(region: string): TestCustomer {
  const key = generateEd25519KeyPair();
  return { key, id: customerPseudonym(key.publicKey), region };
}

/** The enrollment payload of a customer (sequence 1 unless said). */
export function enrollmentPayload(c: TestCustomer, sequence = 1, region = c.region): Uint8Array {
  const enrollment: Enrollment = {
    schema: ENROLLMENT_SCHEMA,
    customer: c.id,
    customerKey: encodePublicKey(c.key.publicKey),
    region,
    enrolledAt: '2026-12-04T12:00:00Z',
    sequence,
  };
  return encodeEnrollment(enrollment);
}

/** The enrollment envelope text signed by the customer and by `others` (the vendor, for a log entry). */
export function enrollmentText(
  c: TestCustomer,
  others: readonly Ed25519KeyPair[] = [],
  sequence = 1,
  region = c.region,
): string {
  const payload = enrollmentPayload(c, sequence, region);
  const message = enrollmentSigningMessage(payload);
  return enrollmentEnvelope(
    payload,
    [c.key, ...others].map((k) => ({
      keyid: keyId(k.publicKey),
      sig: signEd25519(k.seed, message),
    })),
  );
}

export function enrollmentEntry(c: TestCustomer, vendor: Ed25519KeyPair, sequence = 1): Uint8Array {
  return encodeResidencyLogEntry({
    schema: RESIDENCY_LOG_SCHEMA,
    kind: 'enrollment',
    envelope: JSON.parse(enrollmentText(c, [vendor], sequence)) as DsseEnvelope,
  });
}

/** A site entry of a policy whose ingest log key is made up (for tests that never reach it). */
export function fakeSite(id: string, country: string): Site {
  return {
    id,
    country,
    verifierKey: generateSignerKey(`localhost/glasshouse/site/${id}`).verifierKey,
    ingestUrl: `http://127.0.0.1:9/${id}/`,
  };
}

/** Appends an entry and waits until a published checkpoint covers it. */
export async function append(log: Log, entry: Uint8Array): Promise<bigint> {
  const { index } = await log.add(entry);
  await log.waitForCheckpoint(index, 10_000);
  return index;
}
