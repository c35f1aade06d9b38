/**
 * The data path's trust roots in the agent's directory: the residency trust
 * pinned at init (router URL, residency log policy, the two residency
 * signing keys, the key-release public key), the device key, and the
 * enrollment record `agent enroll` writes.
 *
 *     trust/residency.json        the ResidencyTrust (from the trust bundle or --residency)
 *     device.key                  the device's Ed25519 key, PKCS#8 PEM, mode 0600
 *     telemetry/enrollment.json   {customer, region, device, registeredAt}
 */
import {
  createPublicKey,
  generateKeyPairSync,
  createPrivateKey,
  type KeyObject,
} from 'node:crypto';
import { join } from 'node:path';
import { writeNewFileDurably } from '@glasshouse/durable';
import { rawPublicKey } from '@glasshouse/httpsig/client';
import {
  checkResidencyTrust,
  ReleaseFormatError,
  type ResidencyTrust,
} from '@glasshouse/release-format';
import {
  CUSTOMER_PSEUDONYM,
  devicePseudonym,
  fromBase64,
  isKnownRegion,
} from '@glasshouse/residency';
import { parsePolicy, type Policy } from '@glasshouse/tlog';
import { AgentError } from '../errors.js';
import { readFileIfPresent, writeFileAtomic, errnoOf } from '../files.js';
import { mkdir } from 'node:fs/promises';

const MAX_TRUST_BYTES = 128 * 1024;
const MAX_KEY_BYTES = 8 * 1024;
const MAX_ENROLLMENT_BYTES = 4 * 1024;

export function telemetryPaths(dir: string) {
  return {
    residency: join(dir, 'trust', 'residency.json'),
    deviceKey: join(dir, 'device.key'),
    telemetry: join(dir, 'telemetry'),
    enrollment: join(dir, 'telemetry', 'enrollment.json'),
    queue: join(dir, 'telemetry', 'queue'),
    outbox: join(dir, 'telemetry', 'outbox'),
    sent: join(dir, 'telemetry', 'sent'),
  };
}

/** The pinned residency trust with its keys decoded. */
export interface PinnedResidency {
  readonly trust: ResidencyTrust;
  readonly logPolicy: Policy;
  /** The residency log's prefix URL (its policy's log line), ending with '/'. */
  readonly logUrl: string;
  readonly vendorKey: Uint8Array;
  readonly supervisorKey: Uint8Array;
  readonly keyRelease: Uint8Array;
}

/** Checks a ResidencyTrust (shape, keys, a policy naming one log with a URL). */
export function checkPinnedResidency(value: unknown): PinnedResidency {
  try {
    checkResidencyTrust(value);
  } catch (cause) {
    if (!(cause instanceof ReleaseFormatError)) throw cause;
    throw new AgentError('AGENT_OPTION_INVALID', cause.message, { cause });
  }
  const trust = value;
  let logPolicy: Policy;
  try {
    logPolicy = parsePolicy(trust.logPolicy);
  } catch (cause) {
    throw new AgentError('AGENT_OPTION_INVALID', 'the residency log policy does not parse', {
      cause,
    });
  }
  const url = logPolicy.logs[0]?.url;
  if (logPolicy.logs.length !== 1 || url === undefined) {
    throw new AgentError(
      'AGENT_OPTION_INVALID',
      'the residency log policy must name exactly one log, with its URL',
    );
  }
  const bytes = (text: string): Uint8Array => {
    const raw = fromBase64(text);
    if (raw?.length !== 32)
      throw new AgentError('AGENT_OPTION_INVALID', 'a residency key is not 32 bytes');
    return raw;
  };
  return {
    trust,
    logPolicy,
    logUrl: url.endsWith('/') ? url : `${url}/`,
    vendorKey: bytes(trust.vendorKey),
    supervisorKey: bytes(trust.supervisorKey),
    keyRelease: bytes(trust.keyRelease),
  };
}

/** Pins the residency trust and creates the device key (both only once). */
export async function pinResidency(dir: string, trust: ResidencyTrust): Promise<void> {
  const pinned = checkPinnedResidency(trust);
  const paths = telemetryPaths(dir);
  await writeFileAtomic(paths.residency, `${JSON.stringify(pinned.trust, null, 2)}\n`);
  await ensureDeviceKey(dir);
}

/** The pinned residency trust: AGENT_RESIDENCY_NOT_PINNED when init pinned none. */
export async function loadResidency(dir: string): Promise<PinnedResidency> {
  const path = telemetryPaths(dir).residency;
  const bytes = await readFileIfPresent(path, MAX_TRUST_BYTES).catch((cause: unknown) => {
    throw new AgentError('AGENT_CONFIG_INVALID', `cannot read ${path}`, { cause });
  });
  if (bytes === undefined) {
    throw new AgentError(
      'AGENT_RESIDENCY_NOT_PINNED',
      'this agent pinned no residency trust: init it from a trust bundle that has one (or --residency)',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new AgentError('AGENT_CONFIG_INVALID', `${path} is not JSON`, { cause });
  }
  return checkPinnedResidency(value);
}

/** The device key, created (Ed25519, PKCS#8 PEM, 0600) when missing. */
export async function ensureDeviceKey(dir: string): Promise<KeyObject> {
  const path = telemetryPaths(dir).deviceKey;
  const existing = await readDeviceKey(dir);
  if (existing !== undefined) return existing;
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
  await mkdir(dir, { recursive: true });
  try {
    await writeNewFileDurably(path, pem, 0o600);
  } catch (err) {
    // Another enroll made it first: use that one.
    if (errnoOf(err) !== 'EEXIST') throw err;
  }
  const made = await readDeviceKey(dir);
  if (made === undefined) throw new AgentError('AGENT_CONFIG_INVALID', `${path} vanished`);
  return made;
}

async function readDeviceKey(dir: string): Promise<KeyObject | undefined> {
  const path = telemetryPaths(dir).deviceKey;
  const bytes = await readFileIfPresent(path, MAX_KEY_BYTES);
  if (bytes === undefined) return undefined;
  try {
    const key = createPrivateKey(bytes.toString('utf8'));
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not Ed25519');
    return key;
  } catch (cause) {
    throw new AgentError('AGENT_CONFIG_INVALID', `${path} is not an Ed25519 private key`, {
      cause,
    });
  }
}

/** The device key (AGENT_DEVICE_NOT_ENROLLED when there is none). */
export async function deviceKey(dir: string): Promise<KeyObject> {
  const key = await readDeviceKey(dir);
  if (key === undefined) {
    throw new AgentError(
      'AGENT_DEVICE_NOT_ENROLLED',
      'this agent has no device key; run agent enroll',
    );
  }
  return key;
}

/** The raw public key of a device key and its pseudonym (`d-…`, a personal field). */
export function deviceIdentity(key: KeyObject): { publicKey: Uint8Array; pseudonym: string } {
  const publicKey = rawPublicKey(createPublicKey(key));
  return { publicKey, pseudonym: devicePseudonym(publicKey) };
}

/** What `agent enroll` keeps: whose device this is and the customer's logged region. */
export interface DeviceEnrollment {
  readonly customer: string;
  readonly region: string;
  /** The device pseudonym (kept locally; sent only sealed). */
  readonly device: string;
  readonly registeredAt: string;
  /** Index of the customer's enrollment entry in the residency log. */
  readonly enrollmentIndex: string;
  /** The ingest router this device sends to (given at enroll, or the pinned one). */
  readonly routerUrl: string;
}

export async function saveEnrollment(dir: string, enrollment: DeviceEnrollment): Promise<void> {
  await writeFileAtomic(telemetryPaths(dir).enrollment, `${JSON.stringify(enrollment, null, 2)}\n`);
}

/** The device's enrollment: AGENT_DEVICE_NOT_ENROLLED before `agent enroll`. */
export async function loadEnrollment(dir: string): Promise<DeviceEnrollment> {
  const path = telemetryPaths(dir).enrollment;
  const bytes = await readFileIfPresent(path, MAX_ENROLLMENT_BYTES);
  if (bytes === undefined) {
    throw new AgentError(
      'AGENT_DEVICE_NOT_ENROLLED',
      'this device is not enrolled; run agent enroll',
    );
  }
  try {
    const v = JSON.parse(bytes.toString('utf8')) as Partial<DeviceEnrollment>;
    if (
      typeof v.customer !== 'string' ||
      !CUSTOMER_PSEUDONYM.test(v.customer) ||
      typeof v.region !== 'string' ||
      !isKnownRegion(v.region) ||
      typeof v.device !== 'string' ||
      typeof v.registeredAt !== 'string' ||
      typeof v.enrollmentIndex !== 'string' ||
      typeof v.routerUrl !== 'string' ||
      !/^https?:\/\//.test(v.routerUrl)
    ) {
      throw new Error('fields');
    }
    return v as DeviceEnrollment;
  } catch (cause) {
    throw new AgentError('AGENT_CONFIG_INVALID', `${path} is damaged`, { cause });
  }
}
