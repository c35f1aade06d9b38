/** Test fixtures: deterministic customers, principals and access records. */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { encodeAccessRecord, type AccessRecord } from '../src/index.js';

export function customer(n: number): string {
  return `c-${bytesToHex(sha256(new TextEncoder().encode(`customer ${n}`))).slice(0, 32)}`;
}

export function principal(n: number): string {
  return `p-${bytesToHex(sha256(new TextEncoder().encode(`principal ${n}`))).slice(0, 32)}`;
}

export function batchDigest(n: number): string {
  return `sha256:${bytesToHex(sha256(new TextEncoder().encode(`batch ${n}`)))}`;
}

export function record(overrides: Partial<AccessRecord> = {}): AccessRecord {
  return {
    schema: 'glasshouse.access-record/v1',
    site: 'ch-zrh',
    customer: customer(1),
    dataClass: 'personal-fields',
    scope: { kind: 'batches', batches: [batchDigest(1), batchDigest(2)].sort() },
    accessor: {
      principal: principal(1),
      entity: 'Vendor AG',
      country: 'CH',
      role: 'support-engineer',
    },
    justification: {
      code: 'CUSTOMER_INITIATED_SUPPORT',
      detail: 'customer asked why a file was flagged',
      ticket: 'SUP-1234',
    },
    approval: `sha256:${'ab'.repeat(32)}`,
    time: '2026-12-04T10:00:00Z',
    counter: 1,
    ...overrides,
  };
}

export function recordBytes(overrides: Partial<AccessRecord> = {}): Uint8Array {
  return encodeAccessRecord(record(overrides));
}
