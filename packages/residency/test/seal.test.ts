import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  batchDigest,
  encodeBatch,
  expectCode,
  expectCodeAsync,
  fromBase64,
  generateKeyReleaseKeyPair,
  keyReleaseKeyId,
  keyReleasePublicKey,
  MAX_BATCH_BYTES,
  MAX_BATCH_EVENTS,
  openAllPersonal,
  openBatchKey,
  openPersonal,
  parseBatch,
  sealBatch,
  toBase64,
  utf8Json,
  type BatchInput,
  type PlainEvent,
  type TelemetryBatch,
} from './helpers.js';

const keyRelease = await generateKeyReleaseKeyPair();
const customer = `c-${'5'.repeat(32)}`;

function event(i: number): PlainEvent {
  return {
    sha256: i.toString(16).padStart(64, '0'),
    rule: i % 2 ? 'Demo_rule' : null,
    verdict: i % 2 ? 'malicious' : 'unknown',
    timeBucket: '2026-12-04T17:00:00Z',
    personal: {
      device: `d-${'7'.repeat(32)}`,
      host: `pc-${i}`,
      user: 'Zoë',
      path: `C:\\Users\\Zoë\\f${i}.exe`,
    },
  };
}

function input(count: number): BatchInput {
  return {
    customer,
    region: 'EU',
    productVersion: '1.4.0',
    createdAt: '2026-12-04T17:10:00.000Z',
    events: Array.from({ length: count }, (_, i) => event(i)),
  };
}

const sealed = await sealBatch(input(3), keyRelease.publicKey);

describe('HPKE-sealed personal fields (RFC 9180 §6.1 single-shot, base mode)', () => {
  it('round-trips: seal with the public key, open with the private key', async () => {
    const { batch, bytes } = sealed;
    expect(parseBatch(bytes)).toEqual(batch);
    expect(batch.keyRelease).toBe(keyReleaseKeyId(keyRelease.publicKey));
    expect(batch.batchId).toMatch(/^[0-9a-f]{32}$/);
    const dataKey = await openBatchKey(batch, keyRelease.privateKey);
    expect(dataKey).toHaveLength(32);
    for (let i = 0; i < 3; i++) {
      await expect(openPersonal(batch, i, dataKey)).resolves.toEqual(event(i).personal);
    }
    await expect(openAllPersonal(batch, dataKey)).resolves.toEqual(
      [0, 1, 2].map((i) => event(i).personal),
    );
    await expectCodeAsync(() => openAllPersonal(batch, new Uint8Array(32)), 'PERSONAL_OPEN_FAILED');
  });

  it('the vendor holds ciphertext only: no personal field appears in the batch bytes', () => {
    const text = new TextDecoder().decode(sealed.bytes);
    for (const needle of ['pc-0', 'Zoë', 'Users', `d-${'7'.repeat(32)}`])
      expect(text).not.toContain(needle);
    // Non-personal fields stay clear for processing (issue 16 §3).
    expect(text).toContain('Demo_rule');
    expect(text).toContain('"region":"EU"');
  });

  it('sealedKey is enc (32 bytes, RFC 9180 §7.1 Nenc for X25519) ‖ ciphertext of 32 + 16 bytes', () => {
    expect(fromBase64(sealed.batch.sealedKey)).toHaveLength(80);
  });

  it('each seal is fresh: batch id, data key and nonces differ for equal input', async () => {
    const again = await sealBatch(input(3), keyRelease.publicKey);
    expect(again.batch.batchId).not.toBe(sealed.batch.batchId);
    expect(again.batch.sealedKey).not.toBe(sealed.batch.sealedKey);
    expect(again.batch.events[0]?.personal).not.toBe(sealed.batch.events[0]?.personal);
    expect(batchDigest(again.bytes)).not.toBe(batchDigest(sealed.bytes));
  });

  it('KEY_RELEASE_KEY_MISMATCH with another key-release key', async () => {
    const other = await generateKeyReleaseKeyPair();
    const err = await expectCodeAsync(
      () => openBatchKey(sealed.batch, other.privateKey),
      'KEY_RELEASE_KEY_MISMATCH',
    );
    expect(err.evidence).toMatchObject({ batch: sealed.batch.keyRelease });
  });

  it('SEALED_KEY_OPEN_FAILED when the wrong private key claims the key id, or enc, ciphertext or aad changed', async () => {
    const other = await generateKeyReleaseKeyPair();
    const relabelled: TelemetryBatch = {
      ...sealed.batch,
      keyRelease: keyReleaseKeyId(other.publicKey),
    };
    await expectCodeAsync(
      () => openBatchKey(relabelled, other.privateKey),
      'SEALED_KEY_OPEN_FAILED',
    );
    const raw = fromBase64(sealed.batch.sealedKey)!;
    for (const at of [0, 31, 32, 79]) {
      const flipped = raw.slice();
      flipped[at]! ^= 1;
      await expectCodeAsync(
        () =>
          openBatchKey({ ...sealed.batch, sealedKey: toBase64(flipped) }, keyRelease.privateKey),
        'SEALED_KEY_OPEN_FAILED',
      );
    }
    // aad = batch id: the sealed key cannot be moved to another batch.
    await expectCodeAsync(
      () => openBatchKey({ ...sealed.batch, batchId: 'f'.repeat(32) }, keyRelease.privateKey),
      'SEALED_KEY_OPEN_FAILED',
    );
  });

  it('PERSONAL_OPEN_FAILED with a wrong data key, a moved ciphertext, a tampered one or a bad index', async () => {
    const { batch } = sealed;
    const dataKey = await openBatchKey(batch, keyRelease.privateKey);
    await expectCodeAsync(() => openPersonal(batch, 0, new Uint8Array(32)), 'PERSONAL_OPEN_FAILED');
    // aad = batchId:index — event 1's ciphertext at position 0 fails.
    const moved: TelemetryBatch = {
      ...batch,
      events: [
        { ...batch.events[0]!, personal: batch.events[1]!.personal },
        ...batch.events.slice(1),
      ],
    };
    await expectCodeAsync(() => openPersonal(moved, 0, dataKey), 'PERSONAL_OPEN_FAILED');
    const raw = fromBase64(batch.events[2]!.personal)!;
    raw[raw.length - 1]! ^= 0x80;
    const tampered: TelemetryBatch = {
      ...batch,
      events: [...batch.events.slice(0, 2), { ...batch.events[2]!, personal: toBase64(raw) }],
    };
    await expectCodeAsync(() => openPersonal(tampered, 2, dataKey), 'PERSONAL_OPEN_FAILED');
    await expectCodeAsync(() => openPersonal(batch, 3, dataKey), 'PERSONAL_OPEN_FAILED');
    await expectCodeAsync(() => openPersonal(batch, -1, dataKey), 'PERSONAL_OPEN_FAILED');
    await expectCodeAsync(() => openPersonal(batch, 0, new Uint8Array(16)), 'KEY_INVALID');
  });

  it('KEY_INVALID for keys that are not 32 bytes', async () => {
    await expectCodeAsync(() => sealBatch(input(1), new Uint8Array(31)), 'KEY_INVALID');
    await expectCodeAsync(() => openBatchKey(sealed.batch, new Uint8Array(33)), 'KEY_INVALID');
    expectCode(() => keyReleaseKeyId(new Uint8Array(0)), 'KEY_INVALID');
    expect(keyReleasePublicKey(keyRelease.privateKey)).toEqual(keyRelease.publicKey);
  });

  it('property: any personal strings round-trip', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          device: fc.string(),
          host: fc.string(),
          user: fc.string({ unit: 'binary' }),
          path: fc.string(),
        }),
        async (personal) => {
          const { batch } = await sealBatch(
            { ...input(0), events: [{ ...event(1), personal }] },
            keyRelease.publicKey,
          );
          const dataKey = await openBatchKey(batch, keyRelease.privateKey);
          expect(await openPersonal(batch, 0, dataKey)).toEqual(personal);
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe('telemetry batch format', () => {
  it('refuses more than 1,000 events and more than 1 MiB with BATCH_TOO_LARGE', async () => {
    const { batch } = await sealBatch(input(1), keyRelease.publicKey);
    const many = {
      ...batch,
      events: Array(MAX_BATCH_EVENTS + 1).fill(batch.events[0]) as TelemetryBatch['events'],
    };
    expectCode(() => parseBatch(utf8Json(many)), 'BATCH_TOO_LARGE');
    expectCode(() => encodeBatch(many), 'BATCH_TOO_LARGE');
    expectCode(() => parseBatch(new Uint8Array(MAX_BATCH_BYTES + 1)), 'BATCH_TOO_LARGE');
    const fat = {
      ...batch,
      events: Array(MAX_BATCH_EVENTS).fill({
        ...batch.events[0],
        personal: toBase64(new Uint8Array(1500)),
      }),
    };
    expectCode(() => encodeBatch(fat), 'BATCH_TOO_LARGE');
  });

  const cases: [string, (b: TelemetryBatch) => unknown][] = [
    ['wrong schema', (b) => ({ ...b, schema: 'glasshouse.telemetry-batch/v0' })],
    ['unknown top-level field', (b) => ({ ...b, hostname: 'pc-1' })],
    ['missing keyRelease', (b) => ({ ...b, keyRelease: undefined })],
    ['batchId not 32 hex', (b) => ({ ...b, batchId: 'ABC' })],
    ['customer not a pseudonym', (b) => ({ ...b, customer: 'ACME' })],
    ['region badly formed', (b) => ({ ...b, region: 'eu' })],
    ['productVersion empty', (b) => ({ ...b, productVersion: '' })],
    ['createdAt not UTC', (b) => ({ ...b, createdAt: '2026-12-04T18:10:00+01:00' })],
    ['sealedKey wrong length', (b) => ({ ...b, sealedKey: toBase64(new Uint8Array(79)) })],
    ['sealedKey not base64', (b) => ({ ...b, sealedKey: '!!' })],
    ['no events', (b) => ({ ...b, events: [] })],
    ['events not array', (b) => ({ ...b, events: {} })],
    [
      'event sha256 uppercase',
      (b) => ({ ...b, events: [{ ...b.events[0], sha256: 'AB'.repeat(32) }] }),
    ],
    ['event verdict unknown', (b) => ({ ...b, events: [{ ...b.events[0], verdict: 'evil' }] })],
    ['event rule with spaces', (b) => ({ ...b, events: [{ ...b.events[0], rule: 'a rule' }] })],
    [
      'event time not bucketed',
      (b) => ({ ...b, events: [{ ...b.events[0], timeBucket: '2026-12-04T17:05:00Z' }] }),
    ],
    [
      'event personal too short',
      (b) => ({ ...b, events: [{ ...b.events[0], personal: toBase64(new Uint8Array(27)) }] }),
    ],
    ['event clear personal field', (b) => ({ ...b, events: [{ ...b.events[0], host: 'pc-1' }] })],
    ['not an object', () => 'batch'],
  ];
  for (const [name, edit] of cases) {
    it(`refuses: ${name} (BATCH_INVALID)`, () => {
      expectCode(() => parseBatch(utf8Json(edit(sealed.batch))), 'BATCH_INVALID');
    });
  }

  it('refuses non-canonical bytes (the digest must name the content) and non-JSON', () => {
    const pretty = new TextEncoder().encode(JSON.stringify(sealed.batch, null, 1));
    expectCode(() => parseBatch(pretty), 'BATCH_INVALID');
    expectCode(() => parseBatch(new TextEncoder().encode('{"schema":')), 'BATCH_INVALID');
    expect(parseBatch(utf8Json(sealed.batch))).toEqual(sealed.batch);
  });

  it('batchDigest is sha256 of the exact bytes', () => {
    expect(batchDigest(sealed.bytes)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(batchDigest(new Uint8Array())).toBe(
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});
