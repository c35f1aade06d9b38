/**
 * The agent's telemetry on its own side: pinning the residency trust and
 * the device key, the durable queue, sealing (personal fields are
 * ciphertext only the key-release private key opens), and a crash between
 * sealing and dropping the queue never seals an event twice.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  generateEd25519KeyPair,
  generateKeyReleaseKeyPair,
  openBatchKey,
  openPersonal,
  parseBatch,
  toBase64,
} from '@glasshouse/residency';
import { generateSignerKey } from '@glasshouse/tlog';
import { AgentError, checkPinnedResidency, deviceIdentity, queueDetections } from '../src/index.js';
import { outboxRecords, queuedFiles, sealQueued, writeOutbox } from '../src/telemetry/queue.js';
import {
  deviceKey,
  loadResidency,
  pinResidency,
  telemetryPaths,
  type DeviceEnrollment,
} from '../src/telemetry/trust.js';

let work: string;
let keyRelease: { publicKey: Uint8Array; privateKey: Uint8Array };
let trust: {
  logPolicy: string;
  vendorKey: string;
  supervisorKey: string;
  keyRelease: string;
};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'agent-telemetry-'));
  keyRelease = await generateKeyReleaseKeyPair();
  const log = generateSignerKey('localhost/glasshouse/residency');
  trust = {
    logPolicy: `log ${log.verifierKey} http://127.0.0.1:1/\nquorum none\n`,
    vendorKey: toBase64(generateEd25519KeyPair().publicKey),
    supervisorKey: toBase64(generateEd25519KeyPair().publicKey),
    keyRelease: toBase64(keyRelease.publicKey),
  };
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const SHA = (n: number): string => n.toString(16).padStart(64, '0');

async function enrolledDir(name: string): Promise<{ dir: string; enrollment: DeviceEnrollment }> {
  const dir = join(work, name);
  await pinResidency(dir, trust);
  const device = deviceIdentity(await deviceKey(dir));
  return {
    dir,
    enrollment: {
      customer: `c-${'a'.repeat(32)}`,
      region: 'EU',
      device: device.pseudonym,
      registeredAt: '2026-12-04T10:00:00.000Z',
      enrollmentIndex: '1',
      routerUrl: 'http://127.0.0.1:1/',
    },
  };
}

describe('residency trust and device key', () => {
  it('pins the trust and makes a 0600 device key once', async () => {
    const { dir } = await enrolledDir('pin');
    const mode = (await stat(telemetryPaths(dir).deviceKey)).mode & 0o777;
    expect(mode).toBe(0o600);
    const first = deviceIdentity(await deviceKey(dir)).pseudonym;
    await pinResidency(dir, trust);
    expect(deviceIdentity(await deviceKey(dir)).pseudonym).toBe(first);
    expect(first).toMatch(/^d-[0-9a-f]{32}$/);
    expect((await loadResidency(dir)).keyRelease).toEqual(keyRelease.publicKey);
  });

  it('refuses a trust without a residency log URL, or one key for both parties', () => {
    const log = generateSignerKey('localhost/x');
    const codes = [
      { ...trust, logPolicy: `log ${log.verifierKey}\nquorum none\n` },
      { ...trust, supervisorKey: trust.vendorKey },
      { ...trust, keyRelease: 'AAAA' },
      { ...trust, extra: 1 },
      { ...trust, routerUrl: 'ftp://x' },
    ].map((t) => {
      try {
        checkPinnedResidency(t);
        return 'accepted';
      } catch (err) {
        return err instanceof AgentError ? err.code : 'other';
      }
    });
    expect(codes).toEqual(Array(5).fill('AGENT_OPTION_INVALID'));
  });

  it('says AGENT_RESIDENCY_NOT_PINNED for an agent without one', async () => {
    await expect(loadResidency(join(work, 'nothing'))).rejects.toMatchObject({
      code: 'AGENT_RESIDENCY_NOT_PINNED',
    });
  });
});

describe('the queue and sealing', () => {
  it('seals queued detections: only ciphertext of the personal fields, opened with the key-release key', async () => {
    const { dir, enrollment } = await enrolledDir('seal');
    const seenAt = new Date('2026-12-04T10:42:17.123Z');
    await queueDetections(dir, enrollment, [
      {
        sha256: SHA(1),
        rule: 'EICAR',
        verdict: 'malicious',
        seenAt,
        host: 'alice-laptop',
        user: 'alice',
        path: '/home/alice/eicar.com',
      },
      {
        sha256: SHA(2),
        rule: null,
        verdict: 'suspicious',
        seenAt,
        host: 'alice-laptop',
        user: 'alice',
        path: '/tmp/x',
      },
    ]);
    expect(await queuedFiles(dir)).toHaveLength(2);
    const [record, ...more] = await sealQueued({
      dir,
      enrollment,
      keyRelease: keyRelease.publicKey,
      productVersion: 'test-1',
      now: seenAt,
    });
    expect(more).toEqual([]);
    expect(await queuedFiles(dir)).toEqual([]);
    const bytes = Buffer.from(record!.bytes, 'base64');
    const text = bytes.toString('utf8');
    for (const secret of ['alice', '/tmp/x', enrollment.device]) expect(text).not.toContain(secret);
    const batch = parseBatch(bytes);
    expect(batch.customer).toBe(enrollment.customer);
    expect(batch.events.map((e) => [e.sha256, e.rule, e.verdict, e.timeBucket])).toEqual([
      [SHA(1), 'EICAR', 'malicious', '2026-12-04T10:00:00Z'],
      [SHA(2), null, 'suspicious', '2026-12-04T10:00:00Z'],
    ]);
    const dataKey = await openBatchKey(batch, keyRelease.privateKey);
    expect(await openPersonal(batch, 0, dataKey)).toEqual({
      device: enrollment.device,
      host: 'alice-laptop',
      user: 'alice',
      path: '/home/alice/eicar.com',
    });
  });

  it('splits the queue into batches of at most maxEvents', async () => {
    const { dir, enrollment } = await enrolledDir('split');
    const seenAt = new Date('2026-12-04T10:00:00Z');
    await queueDetections(
      dir,
      enrollment,
      [1, 2, 3, 4, 5].map((n) => ({
        sha256: SHA(n),
        rule: null,
        verdict: 'unknown' as const,
        seenAt,
        host: 'h',
        user: 'u',
        path: `/p${n}`,
      })),
    );
    const made = await sealQueued({
      dir,
      enrollment,
      keyRelease: keyRelease.publicKey,
      productVersion: 't',
      now: seenAt,
      maxEvents: 2,
    });
    expect(made.map((r) => r.events)).toEqual([2, 2, 1]);
    expect((await outboxRecords(dir)).length).toBe(3);
  });

  it('after a crash between sealing and dropping the queue, an event is sealed once', async () => {
    const { dir, enrollment } = await enrolledDir('crash');
    const seenAt = new Date('2026-12-04T10:00:00Z');
    await queueDetections(dir, enrollment, [
      {
        sha256: SHA(9),
        rule: null,
        verdict: 'malicious',
        seenAt,
        host: 'h',
        user: 'u',
        path: '/p',
      },
    ]);
    const [record] = await sealQueued({
      dir,
      enrollment,
      keyRelease: keyRelease.publicKey,
      productVersion: 't',
      now: seenAt,
    });
    // The crash: the queue file is back, the outbox record names it.
    const name = record!.queueFiles[0]!;
    await queueDetections(dir, enrollment, []);
    const { writeFileAtomic } = await import('../src/files.js');
    await writeFileAtomic(join(telemetryPaths(dir).queue, name), '{}');
    await writeOutbox(dir, record!);
    expect(
      await sealQueued({
        dir,
        enrollment,
        keyRelease: keyRelease.publicKey,
        productVersion: 't',
        now: seenAt,
      }),
    ).toEqual([]);
    expect(existsSync(join(telemetryPaths(dir).queue, name))).toBe(false);
    expect(await readdir(telemetryPaths(dir).outbox)).toHaveLength(1);
  });

  it('refuses a detection without a SHA-256 or with an unknown verdict', async () => {
    const { dir, enrollment } = await enrolledDir('bad');
    const seenAt = new Date();
    await expect(
      queueDetections(dir, enrollment, [
        {
          sha256: 'xyz',
          rule: null,
          verdict: 'malicious',
          seenAt,
          host: 'h',
          user: 'u',
          path: '/',
        },
      ]),
    ).rejects.toMatchObject({ code: 'AGENT_OPTION_INVALID' });
    await expect(
      queueDetections(dir, enrollment, [
        {
          sha256: SHA(1),
          rule: null,
          verdict: 'evil' as 'malicious',
          seenAt,
          host: 'h',
          user: 'u',
          path: '/',
        },
      ]),
    ).rejects.toMatchObject({ code: 'AGENT_OPTION_INVALID' });
  });
});
