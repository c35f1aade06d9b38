/**
 * The ingest router's decisions, without HTTP: which site a batch goes to
 * (and whether it may go anywhere at all), device registration, and
 * enrollment co-signing. `server.ts` puts them behind the HTTP API.
 *
 * Routing a batch, in order, each step failing closed with its code:
 *  1. the device is in the registry (the allow-list)        DEVICE_NOT_ENROLLED
 *  2. the batch parses (size, schema, canonical bytes)       BATCH_TOO_LARGE, BATCH_INVALID
 *  3. it is the device's customer's batch                    CUSTOMER_MISMATCH
 *  4. the latest logged, witnessed policy verifies           POLICY_NOT_LOGGED, POLICY_UNVERIFIABLE
 *  5. the customer's enrollment is logged and witnessed      CUSTOMER_NOT_ENROLLED
 *  6. the batch's region is the enrolled region              REGION_MISMATCH
 *  7. it designates a site for the region                    REGION_UNKNOWN, REGION_NOT_DESIGNATED
 *  8. the batch enters the durable outbox bound to that site and policy
 *     version; it is delivered to that site only, ever.
 */
import {
  ResidencyError,
  type BatchSummary,
  batchDigest,
  designatedSite,
  fromBase64,
  openDeviceRegistration,
  parseBatchSummary,
  parseDeviceRegistration,
} from '@glasshouse/residency';
import { TelemetryError } from '../errors.js';
import type { ResidencyView } from '../view/view.js';
import type { Forwarder } from './forwarder.js';
import type { DeviceRow, OutboxRow, RouterStore } from './store.js';

/** Where an accepted batch went. */
export interface Routed {
  readonly row: OutboxRow;
  /** False when the same bytes were accepted before. */
  readonly created: boolean;
}

export interface RoutingDeps {
  readonly view: ResidencyView;
  readonly store: RouterStore;
  readonly forwarder: Forwarder;
  readonly now: () => number;
}

/** Steps 2-8 for a batch from an authenticated device. */
export async function routeBatch(
  deps: RoutingDeps,
  device: DeviceRow,
  bytes: Uint8Array,
  sha256?: Uint8Array,
): Promise<Routed> {
  const digest = batchDigest(bytes, sha256);
  // The same bytes again (the device retrying after a lost answer) get the first answer.
  const existing = deps.store.get(digest);
  if (existing !== undefined) {
    if (existing.device !== device.device) {
      throw new TelemetryError('BATCH_INVALID', 'this batch was sent by another device', {
        evidence: { batch: digest },
      });
    }
    return { row: existing, created: false };
  }
  const batch = parseOrRefuse(bytes);
  if (batch.customer !== device.customer) {
    throw new TelemetryError(
      'CUSTOMER_MISMATCH',
      "the batch names another customer than the device's",
      {
        evidence: { batch: digest, device: device.device, customer: batch.customer },
      },
    );
  }
  // Nothing routes without a logged, witnessed, verifiable policy.
  const policy = deps.view.currentPolicy();
  const enrollment = deps.view.enrollment(batch.customer);
  if (enrollment === undefined) {
    throw new TelemetryError(
      'CUSTOMER_NOT_ENROLLED',
      'no witnessed enrollment of this customer in the residency log',
      { evidence: { customer: batch.customer } },
    );
  }
  if (batch.region !== enrollment.enrollment.region) {
    throw new TelemetryError(
      'REGION_MISMATCH',
      "the batch's region is not the customer's logged region",
      {
        evidence: {
          batch: digest,
          region: batch.region,
          enrolled: enrollment.enrollment.region,
          enrollmentIndex: enrollment.index.toString(),
        },
      },
    );
  }
  let site;
  try {
    site = designatedSite(policy.policy, batch.region);
  } catch (err) {
    throw mapResidency(err, { policy: policy.digest, region: batch.region });
  }
  const now = deps.now();
  return await deps.store.enqueue({
    digest,
    device: device.device,
    customer: batch.customer,
    region: batch.region,
    site: site.id,
    siteUrl: site.ingestUrl,
    policy: policy.digest,
    events: batch.events,
    body: bytes,
    now,
  });
}

/**
 * The batch checked as the site will check it (parseBatch's codes), by the
 * fast scanner; the sealed fields are checked, not decoded (the router
 * forwards the bytes as they are).
 */
function parseOrRefuse(bytes: Uint8Array): BatchSummary {
  try {
    return parseBatchSummary(bytes);
  } catch (err) {
    throw mapResidency(err, {});
  }
}

/** Maps the pure package's refusals to ours, keeping their code and evidence. */
export function mapResidency(err: unknown, evidence: Record<string, unknown>): TelemetryError {
  if (!(err instanceof ResidencyError)) throw err;
  const code = ROUTER_CODES[err.code] ?? 'BAD_REQUEST';
  return new TelemetryError(code, err.message, {
    cause: err,
    evidence: { ...err.evidence, ...evidence, residencyCode: err.code },
  });
}

type MappedCode =
  | 'BATCH_TOO_LARGE'
  | 'BATCH_INVALID'
  | 'REGION_UNKNOWN'
  | 'REGION_NOT_DESIGNATED'
  | 'ENROLLMENT_INVALID'
  | 'DEVICE_INVALID';

const ROUTER_CODES: Partial<Record<string, MappedCode>> = {
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
  BATCH_INVALID: 'BATCH_INVALID',
  REGION_UNKNOWN: 'REGION_UNKNOWN',
  REGION_NOT_DESIGNATED: 'REGION_NOT_DESIGNATED',
  ENROLLMENT_INVALID: 'ENROLLMENT_INVALID',
  ENROLLMENT_SIGNATURE_MISSING: 'ENROLLMENT_INVALID',
  ENROLLMENT_SIGNATURE_INVALID: 'ENROLLMENT_INVALID',
  ENVELOPE_INVALID: 'ENROLLMENT_INVALID',
  KEY_INVALID: 'ENROLLMENT_INVALID',
  DEVICE_REGISTRATION_INVALID: 'DEVICE_INVALID',
  DEVICE_SIGNATURE_MISSING: 'DEVICE_INVALID',
  DEVICE_SIGNATURE_INVALID: 'DEVICE_INVALID',
};

/** Largest device registration envelope read. */
export const MAX_DEVICE_BODY = 16 * 1024;

/**
 * Registers a device from a registration its customer signed; the customer
 * must have a witnessed enrollment (its key is the one that must have signed).
 */
export async function registerDevice(
  deps: Pick<RoutingDeps, 'view' | 'store'>,
  text: string,
): Promise<DeviceRow> {
  const customer = claimedCustomer(text);
  let enrollment = deps.view.enrollment(customer);
  if (enrollment === undefined) {
    // An enrollment witnessed since the last refresh counts.
    await deps.view.refresh().catch(() => undefined);
    enrollment = deps.view.enrollment(customer);
  }
  if (enrollment === undefined) {
    throw new TelemetryError(
      'CUSTOMER_NOT_ENROLLED',
      'no witnessed enrollment of this customer in the residency log',
      { evidence: { customer } },
    );
  }
  const key = fromBase64(enrollment.enrollment.customerKey);
  if (key === undefined)
    throw new TelemetryError('STATE_CORRUPT', 'a logged customer key is not base64');
  let opened;
  try {
    opened = openDeviceRegistration(text, key);
  } catch (err) {
    throw mapResidency(err, { customer });
  }
  const row: DeviceRow = {
    device: opened.device,
    customer: opened.registration.customer,
    deviceKey: opened.registration.deviceKey,
    registeredAt: opened.registration.registeredAt,
  };
  const known = deps.store.device(row.device);
  if (known !== undefined && known.customer !== row.customer) {
    throw new TelemetryError(
      'DEVICE_INVALID',
      'this device key is registered to another customer',
      {
        evidence: { device: row.device },
      },
    );
  }
  deps.store.addDevice(row, text);
  return deps.store.device(row.device) ?? row;
}

/** The customer a registration names, read before its signature can be checked (by that customer's key). */
function claimedCustomer(text: string): string {
  try {
    const envelope = JSON.parse(text) as { payload?: unknown };
    const payload = typeof envelope.payload === 'string' ? fromBase64(envelope.payload) : undefined;
    if (payload === undefined) throw new Error('no base64 payload');
    return parseDeviceRegistration(payload).customer;
  } catch (err) {
    if (err instanceof ResidencyError) throw mapResidency(err, {});
    throw new TelemetryError('DEVICE_INVALID', 'the device registration is not a DSSE envelope', {
      cause: err,
    });
  }
}
