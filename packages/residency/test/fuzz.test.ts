// DESIGN.md §7: bad input gets a clear, coded error, never a crash. Every parser of outside bytes is fed
// mutations of a valid input (byte flips, truncations, insertions) and random JSON; each either parses or
// throws a ResidencyError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkReputation,
  encodeDeviceRegistration,
  encodeEnrollment,
  encodeIngestLogEntry,
  encodePolicy,
  generateEd25519KeyPair,
  generateKeyReleaseKeyPair,
  INGEST_LOG_SCHEMA,
  openPolicyEnvelope,
  parseBatch,
  parseDeviceRegistration,
  parseEnrollment,
  parseIngestLogEntry,
  parsePolicy,
  parseResidencyLogEntry,
  ResidencyError,
  ResidencyState,
  sealBatch,
  DEVICE_SCHEMA,
  encodePublicKey,
} from './helpers.js';
import { enrollmentOf, keys, logEntry, policyV1, signedPolicy } from './fixtures.js';

const customer = generateEd25519KeyPair();
const keyRelease = await generateKeyReleaseKeyPair();
const { bytes: batchBytes } = await sealBatch(
  {
    customer: enrollmentOf(customer, 'EU').customer,
    region: 'EU',
    productVersion: '1.0.0',
    createdAt: '2026-12-04T17:10:00Z',
    events: [
      {
        sha256: 'ab'.repeat(32),
        rule: null,
        verdict: 'clean',
        timeBucket: '2026-12-04T17:00:00Z',
        personal: { device: 'd-x', host: 'h', user: 'u', path: '/p' },
      },
    ],
  },
  keyRelease.publicKey,
);

const samples: [string, Uint8Array, (b: Uint8Array) => unknown][] = [
  ['policy', encodePolicy(policyV1), parsePolicy],
  [
    'policy envelope',
    new TextEncoder().encode(signedPolicy(policyV1)),
    (b) => openPolicyEnvelope(b, keys),
  ],
  ['enrollment', encodeEnrollment(enrollmentOf(customer, 'EU')), parseEnrollment],
  [
    'device registration',
    encodeDeviceRegistration({
      schema: DEVICE_SCHEMA,
      customer: enrollmentOf(customer, 'EU').customer,
      deviceKey: encodePublicKey(generateEd25519KeyPair().publicKey),
      registeredAt: '2026-12-04T17:00:00Z',
    }),
    parseDeviceRegistration,
  ],
  ['residency-log entry', logEntry('policy', signedPolicy(policyV1)), parseResidencyLogEntry],
  [
    'residency state',
    logEntry('policy', signedPolicy(policyV1)),
    (b) => ResidencyState.empty(keys).apply(0n, b),
  ],
  ['batch', batchBytes, parseBatch],
  [
    'ingest-log entry',
    encodeIngestLogEntry({
      schema: INGEST_LOG_SCHEMA,
      kind: 'deleted',
      site: 'ch-zrh',
      batches: [`sha256:${'a'.repeat(64)}`],
      olderThan: '2026-11-01T00:00:00Z',
      deletedAt: '2026-12-01T00:00:00Z',
    }),
    parseIngestLogEntry,
  ],
];

function mutate(bytes: Uint8Array) {
  return fc.oneof(
    fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
      const out = bytes.slice();
      out[at]! ^= x;
      return out;
    }),
    fc.nat(bytes.length).map((n) => bytes.slice(0, n)),
    fc
      .tuple(fc.nat(bytes.length), fc.uint8Array({ minLength: 1, maxLength: 8 }))
      .map(([at, ins]) => new Uint8Array([...bytes.slice(0, at), ...ins, ...bytes.slice(at)])),
  );
}

function parsesOrCoded(parse: (b: Uint8Array) => unknown, input: Uint8Array): void {
  try {
    parse(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ResidencyError);
  }
}

describe('parsers fail closed with a code on mutated input', () => {
  for (const [name, bytes, parse] of samples) {
    it(name, () => {
      fc.assert(
        fc.property(mutate(bytes), (input) => {
          parsesOrCoded(parse, input);
        }),
        { numRuns: 150 },
      );
      fc.assert(
        fc.property(fc.json(), (text) => {
          parsesOrCoded(parse, new TextEncoder().encode(text));
        }),
        { numRuns: 100 },
      );
    });
  }

  it('reputation answers', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          checkReputation(value);
        } catch (err) {
          expect(err).toBeInstanceOf(ResidencyError);
        }
      }),
    );
  });
});
