/**
 * The agent's telemetry: enrolling this device for a customer, sending the
 * queued detections as sealed batches to the ingest router, keeping and
 * checking every receipt, and the report `agent telemetry` prints.
 */
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { RequestSigner, rawPublicKey } from '@glasshouse/httpsig/client';
import {
  customerPseudonym,
  deviceEnvelope,
  deviceSigningMessage,
  encodeDeviceRegistration,
  keyId,
  DEVICE_SCHEMA,
} from '@glasshouse/residency';
import { CodedError } from '@glasshouse/errors';
import { AgentError } from '../errors.js';
import { postBatch, pollBatch, registerDevice, type BatchAnswer } from './router-client.js';
import {
  outboxRecords,
  queuedFiles,
  recordSent,
  sealQueued,
  sentRecords,
  updateSent,
  writeOutbox,
  type OutboxRecord,
  type SentRecord,
} from './queue.js';
import { verifyBatchReceipt } from './receipts.js';
import { readAgentResidencyView, type ResidencyView } from './residency-view.js';
import {
  deviceIdentity,
  deviceKey,
  ensureDeviceKey,
  loadEnrollment,
  loadResidency,
  saveEnrollment,
  type DeviceEnrollment,
  type PinnedResidency,
} from './trust.js';

export interface EnrollOptions {
  readonly dir: string;
  /** The customer's Ed25519 private key: it signs the device registration. */
  readonly customerKey: KeyObject;
  /** Overrides the pinned router URL. */
  readonly routerUrl?: string | undefined;
  readonly now: Date;
  readonly fetch?: typeof fetch;
}

/**
 * Enrolls this device: the customer must already be enrolled in the
 * residency log (its region is read from there, never taken from the
 * caller), the customer signs the device registration, the router keeps it.
 */
export async function enrollDevice(options: EnrollOptions): Promise<DeviceEnrollment> {
  const pinned = await loadResidency(options.dir);
  const routerUrl = options.routerUrl ?? pinned.trust.routerUrl;
  if (routerUrl === undefined || !/^https?:\/\/\S+$/.test(routerUrl)) {
    throw new AgentError(
      'AGENT_OPTION_INVALID',
      'give the ingest router URL (--router): none is pinned',
    );
  }
  const customerPublic = rawPublicKey(createPublicKey(options.customerKey));
  const customer = customerPseudonym(customerPublic);
  const view = await readAgentResidencyView(options.dir, pinned, options.fetch);
  const logged = view.state.enrollment(customer);
  if (logged === undefined) {
    throw new AgentError(
      'AGENT_CUSTOMER_NOT_ENROLLED',
      `customer ${customer} has no enrollment in the residency log; enroll the customer first`,
      { evidence: { customer } },
    );
  }
  const key = await ensureDeviceKey(options.dir);
  const device = deviceIdentity(key);
  const registeredAt = options.now.toISOString();
  const payload = encodeDeviceRegistration({
    schema: DEVICE_SCHEMA,
    customer,
    deviceKey: Buffer.from(device.publicKey).toString('base64'),
    registeredAt,
  });
  // DSSE protocol.md: the signature is over PAE(type, payload).
  const sig = sign(null, deviceSigningMessage(payload), options.customerKey);
  const envelope = deviceEnvelope(payload, [
    { keyid: keyId(customerPublic), sig: new Uint8Array(sig) },
  ]);
  const answered = await registerDevice(withSlash(routerUrl), envelope, options.fetch);
  if (answered !== device.pseudonym) {
    throw new AgentError('AGENT_ROUTER_ANSWER_INVALID', 'the router named another device', {
      evidence: { expected: device.pseudonym, answered: answered.slice(0, 80) },
    });
  }
  const enrollment: DeviceEnrollment = {
    customer,
    region: logged.enrollment.region,
    device: device.pseudonym,
    registeredAt,
    enrollmentIndex: logged.index.toString(),
    routerUrl: withSlash(routerUrl),
  };
  await saveEnrollment(options.dir, enrollment);
  return enrollment;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

export interface SendOptions {
  readonly dir: string;
  readonly productVersion: string;
  readonly now: () => Date;
  /** Events per batch (at most 1,000). */
  readonly maxEvents?: number;
  readonly fetch?: typeof fetch;
}

export interface SendReport {
  readonly sealed: number;
  readonly stored: number;
  readonly queued: number;
  readonly refused: number;
  /** Batches kept in the outbox for the next attempt (router unreachable, a transient refusal). */
  readonly retry: number;
  readonly verified: number;
  readonly verifyFailed: number;
  readonly results: readonly {
    digest: string;
    outcome: string;
    site?: string | undefined;
    detail?: string;
  }[];
}

/** Refusals a resend cannot cure: the batch is recorded as refused. */
const FINAL_REFUSALS = new Set(['BATCH_INVALID', 'BATCH_TOO_LARGE', 'REGION_MISMATCH']);

/**
 * Seals what is queued, sends every batch of the outbox (new ones and
 * those a router answered 202 for, which are polled), records each answer
 * and verifies every receipt received.
 */
export async function sendTelemetry(options: SendOptions): Promise<SendReport> {
  const { dir } = options;
  const pinned = await loadResidency(dir);
  const enrollment = await loadEnrollment(dir);
  const key = await deviceKey(dir);
  const signer = new RequestSigner({ privateKey: key, keyid: deviceIdentity(key).pseudonym });
  const router = enrollment.routerUrl;
  const sealed = await sealQueued({
    dir,
    enrollment,
    keyRelease: pinned.keyRelease,
    productVersion: options.productVersion,
    now: options.now(),
    ...(options.maxEvents === undefined ? {} : { maxEvents: options.maxEvents }),
  });
  const counts = { stored: 0, queued: 0, refused: 0, retry: 0, verified: 0, verifyFailed: 0 };
  const results: { digest: string; outcome: string; site?: string | undefined; detail?: string }[] =
    [];
  let view: ResidencyView | undefined;
  for (const record of await outboxRecords(dir)) {
    let answer: BatchAnswer;
    try {
      answer =
        record.status === 'queued'
          ? await pollBatch(signer, router, record.digest, options.fetch)
          : await postBatch(signer, router, Buffer.from(record.bytes, 'base64'), options.fetch);
    } catch (err) {
      if (!(err instanceof AgentError)) throw err;
      await writeOutbox(dir, {
        ...record,
        lastError: { code: err.code, message: err.message, at: options.now().toISOString() },
      });
      counts.retry++;
      results.push({ digest: record.digest, outcome: 'retry', detail: err.code });
      continue;
    }
    switch (answer.status) {
      case 'queued':
        await writeOutbox(dir, { ...record, status: 'queued', site: answer.site });
        counts.queued++;
        results.push({ digest: record.digest, outcome: 'queued', site: answer.site });
        break;
      case 'refused':
        if (!FINAL_REFUSALS.has(answer.code)) {
          await writeOutbox(dir, {
            ...record,
            lastError: {
              code: answer.code,
              message: answer.message,
              at: options.now().toISOString(),
            },
          });
          counts.retry++;
          results.push({ digest: record.digest, outcome: 'retry', detail: answer.code });
          break;
        }
        await recordSent(dir, {
          ...base(record, options.now()),
          status: 'refused',
          refusal: { code: answer.code, message: answer.message },
        });
        counts.refused++;
        results.push({ digest: record.digest, outcome: 'refused', detail: answer.code });
        break;
      case 'stored': {
        const sent: SentRecord = {
          ...base(record, options.now()),
          status: 'stored',
          site: answer.site,
          receipt: answer.receipt,
        };
        // Kept before it is checked: a receipt is evidence either way.
        await recordSent(dir, sent);
        counts.stored++;
        view ??= await readAgentResidencyView(dir, pinned, options.fetch).catch(() => undefined);
        const checked = await checkReceipt(pinned, view, sent, options);
        await updateSent(dir, checked);
        if (checked.verification?.result === 'verified') counts.verified++;
        else counts.verifyFailed++;
        results.push({
          digest: record.digest,
          outcome: 'stored',
          site: answer.site,
          detail:
            checked.verification?.result === 'verified'
              ? 'receipt verified'
              : `receipt ${checked.verification?.result === 'failed' ? checked.verification.code : 'unchecked'}`,
        });
        break;
      }
    }
  }
  return { sealed: sealed.length, ...counts, results };
}

function base(record: OutboxRecord, now: Date) {
  return {
    digest: record.digest,
    events: record.events,
    customer: record.customer,
    region: record.region,
    createdAt: record.createdAt,
    sentAt: now.toISOString(),
  };
}

async function checkReceipt(
  pinned: PinnedResidency,
  view: ResidencyView | undefined,
  sent: SentRecord,
  options: { now: () => Date; fetch?: typeof fetch },
): Promise<SentRecord> {
  const at = options.now().toISOString();
  if (view === undefined) {
    return {
      ...sent,
      verification: {
        result: 'failed',
        code: 'AGENT_RESIDENCY_LOG_UNREACHABLE',
        message: 'the residency log could not be read',
        at,
      },
    };
  }
  try {
    const v = await verifyBatchReceipt({
      pinned,
      view,
      siteId: sent.site ?? '',
      receipt: sent.receipt ?? '',
      sent: {
        digest: sent.digest,
        customer: sent.customer,
        region: sent.region,
        events: sent.events,
      },
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    });
    return {
      ...sent,
      verification: {
        result: 'verified',
        index: v.index,
        checkpointSize: v.checkpointSize,
        cosigners: v.cosigners,
        policy: v.policy,
        at,
      },
    };
  } catch (err) {
    if (!(err instanceof CodedError)) throw err;
    return {
      ...sent,
      verification: { result: 'failed', code: String(err.code), message: err.message, at },
    };
  }
}

/** Re-checks every kept receipt (e.g. after the residency log grew). */
export async function verifyReceipts(options: {
  dir: string;
  now: () => Date;
  fetch?: typeof fetch;
}): Promise<SentRecord[]> {
  const pinned = await loadResidency(options.dir);
  const view = await readAgentResidencyView(options.dir, pinned, options.fetch);
  const out: SentRecord[] = [];
  for (const record of await sentRecords(options.dir)) {
    if (record.status !== 'stored') {
      out.push(record);
      continue;
    }
    const checked = await checkReceipt(pinned, view, record, options);
    await updateSent(options.dir, checked);
    out.push(checked);
  }
  return out;
}

export interface TelemetryReport {
  readonly enrollment: DeviceEnrollment | undefined;
  readonly router: string;
  readonly queued: number;
  readonly outbox: readonly OutboxRecord[];
  readonly sent: readonly SentRecord[];
}

/** What `agent telemetry` shows: the device's enrollment, what waits, what was sent and its receipts. */
export async function telemetryReport(dir: string): Promise<TelemetryReport> {
  const pinned = await loadResidency(dir);
  const enrollment = await loadEnrollment(dir).catch((err: unknown) => {
    if (err instanceof AgentError && err.code === 'AGENT_DEVICE_NOT_ENROLLED') return undefined;
    throw err;
  });
  return {
    enrollment,
    router: enrollment?.routerUrl ?? pinned.trust.routerUrl ?? 'none',
    queued: (await queuedFiles(dir)).length,
    outbox: await outboxRecords(dir),
    sent: await sentRecords(dir),
  };
}
