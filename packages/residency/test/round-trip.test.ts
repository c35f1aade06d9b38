import { describe, expect, it } from 'vitest';
import {
  batchDigest,
  checkStoredEntry,
  designatedSite,
  generateEd25519KeyPair,
  generateKeyReleaseKeyPair,
  INGEST_LOG_SCHEMA,
  openBatchKey,
  openPersonal,
  openPolicyEnvelope,
  parseBatch,
  ResidencyState,
  sealBatch,
} from '../src/index.js';
import {
  enrollmentOf,
  keys,
  logEntry,
  policyV1,
  signedEnrollment,
  signedPolicy,
  vendor,
} from './fixtures.js';

describe('the data path end to end (pure)', () => {
  it('routes, seals, opens and checks a stored batch', async () => {
    const opened = openPolicyEnvelope(signedPolicy(policyV1), keys);
    expect(designatedSite(opened.policy, 'EU').id).toBe('ch-zrh');
    expect(designatedSite(opened.policy, 'MEA').id).toBe('us-iad');

    const customer = generateEd25519KeyPair();
    const enrollment = enrollmentOf(customer, 'EU');
    const state = ResidencyState.empty(keys);
    state.apply(0n, logEntry('policy', signedPolicy(policyV1)));
    state.apply(1n, logEntry('enrollment', signedEnrollment(enrollment, [customer, vendor])));
    expect(state.policy?.digest).toBe(opened.digest);
    expect(state.enrollment(enrollment.customer)?.enrollment.region).toBe('EU');

    const keyRelease = await generateKeyReleaseKeyPair();
    const personal = { device: 'd-' + '1'.repeat(32), host: 'pc-7', user: 'alice', path: '/tmp/x' };
    const { batch, bytes } = await sealBatch(
      {
        customer: enrollment.customer,
        region: 'EU',
        productVersion: '1.0.0',
        createdAt: '2026-12-04T17:10:00.000Z',
        events: [
          {
            sha256: 'ab'.repeat(32),
            rule: 'Demo_rule',
            verdict: 'malicious',
            timeBucket: '2026-12-04T17:00:00Z',
            personal,
          },
        ],
      },
      keyRelease.publicKey,
    );
    expect(parseBatch(bytes)).toEqual(batch);
    const dataKey = await openBatchKey(batch, keyRelease.privateKey);
    await expect(openPersonal(batch, 0, dataKey)).resolves.toEqual(personal);

    checkStoredEntry(state, 'ch-zrh', {
      schema: INGEST_LOG_SCHEMA,
      kind: 'stored',
      site: 'ch-zrh',
      policy: opened.digest,
      customer: enrollment.customer,
      region: 'EU',
      events: 1,
      batch: batchDigest(bytes),
      storedAt: '2026-12-04T17:10:01Z',
    });
  });
});
