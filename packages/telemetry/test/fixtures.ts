// Shared test fixtures of the data site: real keys and signatures, a real
// residency state folded from signed log entries, a real witness on loopback.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DsseEnvelope,
  type Ed25519KeyPair,
  type PlainEvent,
  ENROLLMENT_SCHEMA,
  RESIDENCY_LOG_SCHEMA,
  ResidencyState,
  customerPseudonym,
  demoPolicy,
  encodeEnrollment,
  encodePolicy,
  encodePublicKey,
  encodeResidencyLogEntry,
  enrollmentEnvelope,
  enrollmentSigningMessage,
  generateEd25519KeyPair,
  generateKeyReleaseKeyPair,
  keyId,
  policyDigest,
  policyEnvelope,
  policySigningMessage,
  sealBatch,
  signEd25519,
} from '@glasshouse/residency';
import { generateCosignerKey, generateSignerKey, parsePolicy } from '@glasshouse/tlog';
import {
  type SqliteState,
  buildWitnessServer,
  createWitness,
  openSqliteState,
} from '@glasshouse/witness';
import type { LogWitnessingOptions } from '@glasshouse/log';

export const ZURICH = 'ch-zrh';
export const OTHER = 'us-iad';

function sign(signer: Ed25519KeyPair, message: Uint8Array): { keyid: string; sig: Uint8Array } {
  return { keyid: keyId(signer.publicKey), sig: signEd25519(signer.seed, message) };
}

function logEntry(kind: 'policy' | 'enrollment', envelopeText: string): Uint8Array {
  return encodeResidencyLogEntry({
    schema: RESIDENCY_LOG_SCHEMA,
    kind,
    envelope: JSON.parse(envelopeText) as DsseEnvelope,
  });
}

/** The residency facts of a test: demo policy v1 and two enrolled customers. */
export interface ResidencyWorld {
  readonly state: ResidencyState;
  /** Residency-log entries in order (to rebuild the state elsewhere, e.g. a child process). */
  readonly entries: readonly Uint8Array[];
  readonly policy: string;
  /** Enrolled in EU (designated to Zurich). */
  readonly euCustomer: string;
  /** Enrolled in LATAM (designated to the other site). */
  readonly latamCustomer: string;
  readonly keys: { vendorKey: Uint8Array; supervisorKey: Uint8Array };
  readonly keyRelease: { publicKey: Uint8Array; privateKey: Uint8Array };
}

export async function residencyWorld(siteLogKeys: {
  zurich: string;
  other: string;
}): Promise<ResidencyWorld> {
  const vendor = generateEd25519KeyPair();
  const supervisor = generateEd25519KeyPair();
  const keys = { vendorKey: vendor.publicKey, supervisorKey: supervisor.publicKey };
  const policy = demoPolicy({
    zurich: {
      id: ZURICH,
      country: 'CH',
      verifierKey: siteLogKeys.zurich,
      ingestUrl: 'http://127.0.0.1:8451/',
    },
    other: {
      id: OTHER,
      country: 'US',
      verifierKey: siteLogKeys.other,
      ingestUrl: 'http://127.0.0.1:8452/',
    },
    issuedAt: '2026-12-04T17:00:00Z',
  });
  const payload = encodePolicy(policy);
  const message = policySigningMessage(payload);
  const entries = [
    logEntry('policy', policyEnvelope(payload, [sign(vendor, message), sign(supervisor, message)])),
  ];
  const customers: string[] = [];
  for (const region of ['EU', 'LATAM']) {
    const customer = generateEd25519KeyPair();
    const enrollment = {
      schema: ENROLLMENT_SCHEMA,
      customer: customerPseudonym(customer.publicKey),
      customerKey: encodePublicKey(customer.publicKey),
      region,
      enrolledAt: '2026-12-04T17:05:00Z',
      sequence: 1,
    } as const;
    const p = encodeEnrollment(enrollment);
    const m = enrollmentSigningMessage(p);
    entries.push(
      logEntry('enrollment', enrollmentEnvelope(p, [sign(customer, m), sign(vendor, m)])),
    );
    customers.push(enrollment.customer);
  }
  return {
    state: foldState(keys, entries),
    entries,
    policy: policyDigest(payload),
    euCustomer: customers[0]!,
    latamCustomer: customers[1]!,
    keys,
    keyRelease: await generateKeyReleaseKeyPair(),
  };
}

export function foldState(
  keys: { vendorKey: Uint8Array; supervisorKey: Uint8Array },
  entries: readonly Uint8Array[],
): ResidencyState {
  const state = ResidencyState.empty(keys);
  entries.forEach((e, i) => state.apply(BigInt(i), e));
  return state;
}

export const HOST = 'workstation-17.corp.example';
export const USER = 'jdoe-personal';
export const PATH = '/home/jdoe-personal/Downloads/invoice.pdf.exe';

/** A sealed batch of `n` events (about 1 KB each with `pad`). */
export async function makeBatch(
  world: ResidencyWorld,
  opts: { customer: string; region: string; n?: number; pad?: number; sha?: (i: number) => string },
): Promise<Uint8Array> {
  const n = opts.n ?? 3;
  const events: PlainEvent[] = [];
  for (let i = 0; i < n; i++) {
    events.push({
      sha256: opts.sha?.(i) ?? i.toString(16).padStart(64, 'a'),
      rule: i % 2 === 0 ? 'demo:evil_marker' : null,
      verdict: i % 2 === 0 ? 'malicious' : 'clean',
      timeBucket: '2026-12-04T16:00:00Z',
      personal: {
        device: 'd-0123456789abcdef0123456789abcdef',
        host: HOST,
        user: USER,
        path: `${PATH}${'x'.repeat(opts.pad ?? 0)}`,
      },
    });
  }
  const sealed = await sealBatch(
    {
      customer: opts.customer,
      region: opts.region,
      productVersion: '1.4.0',
      createdAt: '2026-12-04T16:30:00Z',
      events,
    },
    world.keyRelease.publicKey,
  );
  return sealed.bytes;
}

export function newLogKey(siteId: string): { signerKey: string; verifierKey: string } {
  return generateSignerKey(`localhost/glasshouse/site/${siteId}`);
}

/** A real witness (own key, own SQLite state) on loopback that trusts `logVerifierKeys`. */
export interface TestWitness {
  readonly url: string;
  /** c2sp.org/tlog-policy text: the log, this witness, a quorum of it. */
  policyText(logVerifierKey: string): string;
  /** Witnessing options for a log with this key: quorum = this witness. */
  witnessing(logVerifierKey: string): LogWitnessingOptions;
  close(): Promise<void>;
}

export async function startTestWitness(logVerifierKeys: readonly string[]): Promise<TestWitness> {
  const dir = await mkdtemp(join(tmpdir(), 'glasshouse-site-witness-'));
  const state: SqliteState = await openSqliteState({ dir });
  const name = 'witness.example/site-test';
  const keys = generateCosignerKey(name);
  const witness = createWitness({
    cosigner: keys.signerKey,
    state,
    now: () => BigInt(Math.floor(Date.now() / 1000)),
  });
  for (const vkey of logVerifierKeys) await witness.addLog(vkey);
  const app = buildWitnessServer({ witness, state });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const url = `http://127.0.0.1:${address.port}`;
  // c2sp.org/tlog-policy: the log, the witness, a quorum of that one witness.
  const policyText = (logVerifierKey: string): string =>
    `log ${logVerifierKey}\nwitness w ${keys.verifierKey} ${url}\nquorum w\n`;
  return {
    url,
    policyText,
    witnessing: (logVerifierKey) => ({ policy: parsePolicy(policyText(logVerifierKey)) }),
    close: async () => {
      await app.close();
      await state.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it is true or `timeoutMs` passed. */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
