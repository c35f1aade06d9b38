/**
 * Witnessing end to end: a log on real SQLite, real witnesses from
 * `@glasshouse/witness` on loopback HTTP, and the log's own HTTP API.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import {
  type Policy,
  decodeBase64Strict,
  generateSignerKey,
  parsePolicy,
  verifyCheckpointWithPolicy,
  verifyConsistency,
} from '@glasshouse/tlog';
import { type Log, type LogWitnessingOptions, initLog, openLog } from '../src/log.js';
import { buildServer } from '../src/server.js';
import { Witnessing } from '../src/witnessing.js';
import { openSqliteStorage, type SqliteStorage } from '../src/sqlite.js';
import { type TestWitness, eventually, startTestWitness } from './witness-fixture.js';

const ORIGIN = 'example.org/witnessed-log';
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

interface RunningLog {
  log: Log;
  app: FastifyInstance;
  url: string;
  errors: unknown[];
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function newLogDir(): Promise<{ dir: string; storage: SqliteStorage; keys: LogKeys }> {
  const dir = await mkdtemp(join(tmpdir(), 'glasshouse-witnessed-'));
  const storage = await openSqliteStorage({ dir });
  const keys = generateSignerKey(ORIGIN);
  await initLog({ origin: ORIGIN, signerKey: keys.signerKey, storage });
  cleanups.push(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, storage, keys };
}

type LogKeys = { signerKey: string; verifierKey: string };

async function serveLog(
  storage: SqliteStorage,
  keys: LogKeys,
  witnessing: LogWitnessingOptions,
): Promise<RunningLog> {
  const errors: unknown[] = [];
  const log = await openLog({
    storage,
    signerKey: keys.signerKey,
    sequencer: { batchDelayMs: 5 },
    integrator: {
      intervalMs: 20,
      publishRetryMaxMs: 100,
      onError: (err) => errors.push(err),
    },
    witnessing: { timeoutMs: 2_000, quorumGraceMs: 50, ...witnessing },
  });
  const app = buildServer({ log });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await app.close();
    await log.close();
  };
  cleanups.push(close);
  return { log, app, url: address, errors, close };
}

function policyText(logVkey: string, witnesses: readonly TestWitness[], quorum: string): string {
  const group =
    witnesses.length > 1 && quorum === 'all'
      ? `group all-of-them all ${witnesses.map((w) => w.name).join(' ')}\n`
      : '';
  const q = quorum === 'all' && witnesses.length > 1 ? 'all-of-them' : quorum;
  return `log ${logVkey}\n${witnesses.map((w) => w.policyLine()).join('')}${group}quorum ${q}\n`;
}

async function witnesses(n: number, logVkey: string): Promise<TestWitness[]> {
  const out: TestWitness[] = [];
  for (let i = 1; i <= n; i++) {
    const w = await startTestWitness(`witness-${i}.example`, [logVkey]);
    cleanups.push(() => w.close());
    out.push(w);
  }
  return out;
}

async function getText(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return res.text();
}

async function publishedSize(url: string): Promise<bigint> {
  const body = await getText(`${url}/checkpoint`);
  return BigInt(body.split('\n')[1] ?? 'x');
}

async function healthz(url: string): Promise<Record<string, unknown>> {
  return JSON.parse(await getText(`${url}/healthz`)) as Record<string, unknown>;
}

async function add(url: string, text: string): Promise<number> {
  const res = await fetch(`${url}/add`, { method: 'POST', body: utf8(text) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { index: number }).index;
}

function cosigners(note: string, policy: Policy): string[] {
  return verifyCheckpointWithPolicy(note, policy).cosigners;
}

describe('a log with a witness policy', () => {
  it('publishes checkpoints only with the cosignatures its quorum needs', async () => {
    const { storage, keys } = await newLogDir();
    const [w1, w2] = (await witnesses(2, keys.verifierKey)) as [TestWitness, TestWitness];
    const policy = parsePolicy(policyText(keys.verifierKey, [w1, w2], 'all'));
    const { url } = await serveLog(storage, keys, { policy });

    const res = await fetch(`${url}/add?wait=checkpoint`, { method: 'POST', body: utf8('one') });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { checkpoint: string; receipt: string };
    expect(cosigners(body.checkpoint, policy)).toEqual([w1.name, w2.name]);
    for (let i = 0; i < 5; i++) await add(url, `entry ${i}`);
    await eventually('6 entries published', async () => (await publishedSize(url)) === 6n);

    const served = await getText(`${url}/checkpoint`);
    expect(cosigners(served, policy)).toEqual([w1.name, w2.name]);
    // Each witness recorded exactly what the log published.
    expect((await w1.witness.latest(ORIGIN))?.size).toBe(6n);
    expect((await w2.witness.latest(ORIGIN))?.size).toBe(6n);
    const health = await healthz(url);
    expect(health.witnessing).toMatch(/^required/);
    expect(health.signedSize).toBe(6);
  });

  it('finds a published note complete by its own bytes only (the answer is kept per note)', async () => {
    const { storage, keys } = await newLogDir();
    const [w1] = (await witnesses(1, keys.verifierKey)) as [TestWitness];
    const policy = parsePolicy(policyText(keys.verifierKey, [w1], w1.name));
    const { url } = await serveLog(storage, keys, { policy });
    const res = await fetch(`${url}/add?wait=checkpoint`, { method: 'POST', body: utf8('one') });
    const { checkpoint } = (await res.json()) as { checkpoint: string };
    const signedOnly = checkpoint.slice(0, checkpoint.indexOf(`\u2014 ${w1.name} `));
    const lines = checkpoint.split('\n');
    const cosig = lines.findIndex((l) => l.startsWith(`\u2014 ${w1.name} `));
    const sig = lines[cosig] as string;
    // Same length, one base64 character inside the Ed25519 signature changed.
    const flipped = sig.at(-12) === 'A' ? 'B' : 'A';
    lines[cosig] = `${sig.slice(0, -12)}${flipped}${sig.slice(-11)}`;
    const forged = lines.join('\n');

    const w = new Witnessing({ policy, logVerifierKey: keys.verifierKey, storage });
    expect(w.isComplete(signedOnly)).toBe(false);
    expect(w.isComplete(checkpoint)).toBe(true);
    expect(w.isComplete(checkpoint)).toBe(true);
    // A remembered answer never stands in for other bytes.
    expect(w.isComplete(forged)).toBe(false);
    expect(w.isComplete(signedOnly)).toBe(false);
    expect(w.isComplete(checkpoint)).toBe(true);
    await w.close();
  });

  it('has the empty tree cosigned too, before any entry', async () => {
    const { storage, keys } = await newLogDir();
    const [w1] = (await witnesses(1, keys.verifierKey)) as [TestWitness];
    const policy = parsePolicy(policyText(keys.verifierKey, [w1], w1.name));
    const { url } = await serveLog(storage, keys, { policy });
    // Created unwitnessed at init; the integrator offers it to the witness.
    await eventually('the empty tree cosigned', async () => {
      const note = await getText(`${url}/checkpoint`);
      try {
        return cosigners(note, policy).includes(w1.name);
      } catch {
        return false;
      }
    });
    expect(await publishedSize(url)).toBe(0n);
    expect((await w1.witness.latest(ORIGIN))?.size).toBe(0n);
  });

  it('keeps sequencing while a witness is down, publishes nothing unwitnessed, and catches up', async () => {
    const { storage, keys } = await newLogDir();
    const [w1, w2] = (await witnesses(2, keys.verifierKey)) as [TestWitness, TestWitness];
    const policy = parsePolicy(policyText(keys.verifierKey, [w1, w2], 'all'));
    const { url, log } = await serveLog(storage, keys, { policy });

    for (let i = 0; i < 3; i++) await add(url, `before ${i}`);
    await eventually('3 entries published', async () => (await publishedSize(url)) === 3n);
    const before = await getText(`${url}/checkpoint`);

    await w2.stop();
    const served: string[] = [];
    for (let i = 0; i < 20; i++) {
      expect(await add(url, `during ${i}`)).toBe(3 + i);
      served.push(await getText(`${url}/checkpoint`));
    }
    await eventually('23 entries signed', async () => (await healthz(url)).signedSize === 23);
    // A few more witnessing attempts fail while the tree is already signed at 23.
    await eventually('failures counted', async () =>
      (await log.metrics.metricsText()).includes(
        `glasshouse_log_witness_failures_total{witness="${w2.name}",reason="unreachable"}`,
      ),
    );
    served.push(await getText(`${url}/checkpoint`));
    // Nothing unwitnessed: everything served still is the 3-entry checkpoint with both cosignatures.
    for (const note of served) {
      expect(verifyCheckpointWithPolicy(note, policy).checkpoint.size).toBe(3n);
    }
    expect(await log.metrics.metricsText()).toContain('glasshouse_log_witness_quorum_met 0');
    const down = await healthz(url);
    expect(down.size).toBe(3);
    const status = (down.witnesses as { name: string; lastError: { reason: string } | null }[])
      .filter((w) => w.lastError !== null)
      .map((w) => [w.name, w.lastError?.reason]);
    expect(status).toEqual([[w2.name, 'unreachable']]);

    await w2.start();
    await eventually('caught up to 23', async () => (await publishedSize(url)) === 23n);
    const after = await getText(`${url}/checkpoint`);
    const old = verifyCheckpointWithPolicy(before, policy).checkpoint;
    const now = verifyCheckpointWithPolicy(after, policy);
    expect(now.cosigners).toEqual([w1.name, w2.name]);
    // The new published checkpoint extends the old one. RFC 9162 §2.1.4.2
    const proof = JSON.parse(await getText(`${url}/proof/consistency?old=3&new=23`)) as {
      proof: string[];
    };
    verifyConsistency(
      3n,
      23n,
      proof.proof.map((p) => decodeBase64Strict(p) as Uint8Array),
      old.rootHash,
      now.checkpoint.rootHash,
    );
    expect((await w2.witness.latest(ORIGIN))?.size).toBe(23n);
  });

  it('retries from the size a witness reports in a 409', async () => {
    const { storage, keys } = await newLogDir();
    const [w1, w2, w3] = (await witnesses(3, keys.verifierKey)) as [
      TestWitness,
      TestWitness,
      TestWitness,
    ];
    // First life: w1 and w2 required, w2 away; w1 cosigns sizes the log cannot publish.
    const first = parsePolicy(policyText(keys.verifierKey, [w1, w2], 'all'));
    await w2.stop();
    const a = await serveLog(storage, keys, { policy: first });
    for (let i = 0; i < 4; i++) await add(a.url, `first ${i}`);
    await eventually('w1 cosigned 4', async () => (await w1.witness.latest(ORIGIN))?.size === 4n);
    expect(await publishedSize(a.url)).toBe(0n);
    await a.close();

    // Second life, fresh memory: it first offers w1 the published size (0), which w1 is past
    // (409: 4); w3 is new to the log and at 0. Both must end up cosigning.
    await w2.start();
    const second = parsePolicy(policyText(keys.verifierKey, [w1, w3], 'all'));
    const b = await serveLog(storage, keys, { policy: second });
    await add(b.url, 'second');
    await eventually('5 published', async () => (await publishedSize(b.url)) === 5n);
    expect(cosigners(await getText(`${b.url}/checkpoint`), second)).toEqual([w1.name, w3.name]);
    expect(await w1.answers(409)).toBeGreaterThanOrEqual(1);
    expect(await w3.answers(409)).toBe(0);
    expect((await w1.witness.latest(ORIGIN))?.size).toBe(5n);
    expect(b.log.witnessStatus().map((w) => w.cosignedSize)).toEqual([5n, 5n]);
  });

  it('publishes without a quorum only under the development flag, and says so', async () => {
    const { storage, keys } = await newLogDir();
    const [w1] = (await witnesses(1, keys.verifierKey)) as [TestWitness];
    const policy = parsePolicy(policyText(keys.verifierKey, [w1], w1.name));
    await w1.stop();
    const { url } = await serveLog(storage, keys, { policy, publishUnwitnessed: true });
    await add(url, 'unwitnessed');
    await eventually('published anyway', async () => (await publishedSize(url)) === 1n);
    const served = await getText(`${url}/checkpoint`);
    const health = await healthz(url);
    expect(health.witnessing).toMatch(/^DISABLED \(development flag/);
    // What it published really is unwitnessed: a verifier with the policy refuses it.
    expect(() => verifyCheckpointWithPolicy(served, policy)).toThrow(
      expect.objectContaining({ code: 'POLICY_QUORUM_NOT_MET' }),
    );
  });

  it("refuses a policy that does not name the log's key", async () => {
    const { storage, keys } = await newLogDir();
    const [w1] = (await witnesses(1, keys.verifierKey)) as [TestWitness];
    const other = generateSignerKey(ORIGIN).verifierKey;
    const policy = parsePolicy(policyText(other, [w1], w1.name));
    await expect(
      openLog({ storage, signerKey: keys.signerKey, witnessing: { policy } }),
    ).rejects.toMatchObject({ code: 'WITNESS_POLICY_INVALID' });
  });
});
