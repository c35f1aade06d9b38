/**
 * Device registration: the customer's key vouches for a device key. Not
 * logged (the device pseudonym is a personal field); the router keeps it
 * to authenticate the device's signed requests.
 */
import { canonicalJson, parseJsonBytes, utf8 } from './bytes.js';
import { exactObject, matching, preview, rfc3339, type Fail } from './check.js';
import {
  buildEnvelope,
  checkEnvelope,
  pae,
  parseEnvelopeText,
  serializeEnvelope,
  verifyParties,
  type DetachedSignature,
} from './dsse.js';
import { ResidencyError } from './errors.js';
import { CUSTOMER_PSEUDONYM, customerPseudonym, decodePublicKey, devicePseudonym } from './keys.js';

export const DEVICE_PAYLOAD_TYPE = 'application/vnd.glasshouse.device+json';
export const DEVICE_SCHEMA = 'glasshouse.device/v1';
export const MAX_DEVICE_BYTES = 4 * 1024;
export const MAX_DEVICE_ENVELOPE_BYTES = 16 * 1024;

export interface DeviceRegistration {
  readonly schema: typeof DEVICE_SCHEMA;
  /** The customer's pseudonym. */
  readonly customer: string;
  /** Base64 raw 32-byte Ed25519 public key of the device. */
  readonly deviceKey: string;
  readonly registeredAt: string;
}

export interface OpenedDeviceRegistration {
  readonly registration: DeviceRegistration;
  readonly payload: Uint8Array;
  readonly deviceKey: Uint8Array;
  /** `d-` + 32 hex of the device key: the keyid of its signed requests. */
  readonly device: string;
}

const invalid: Fail = (what, evidence) => {
  throw new ResidencyError(
    'DEVICE_REGISTRATION_INVALID',
    `device registration: ${what}`,
    evidence ? { evidence } : {},
  );
};

function deviceJson(d: DeviceRegistration): Parameters<typeof canonicalJson>[0] {
  return {
    schema: d.schema,
    customer: d.customer,
    deviceKey: d.deviceKey,
    registeredAt: d.registeredAt,
  };
}

/** The payload bytes the customer signs: canonical JSON + '\n'. */
export function encodeDeviceRegistration(registration: DeviceRegistration): Uint8Array {
  checkDeviceValue(registration);
  return utf8(`${canonicalJson(deviceJson(registration))}\n`);
}

export function parseDeviceRegistration(bytes: Uint8Array): DeviceRegistration {
  if (bytes.length > MAX_DEVICE_BYTES) {
    invalid('over the size limit', { size: bytes.length, max: MAX_DEVICE_BYTES });
  }
  const { value, text } = parseJsonBytes(
    bytes,
    (cause) =>
      new ResidencyError('DEVICE_REGISTRATION_INVALID', 'device registration: not UTF-8 JSON', {
        cause,
      }),
  );
  const registration = checkDeviceValue(value);
  if (text !== `${canonicalJson(deviceJson(registration))}\n`) {
    invalid('the payload is not in canonical form');
  }
  return registration;
}

function checkDeviceValue(value: unknown): DeviceRegistration {
  const v = exactObject(
    value,
    'the registration',
    ['schema', 'customer', 'deviceKey', 'registeredAt'],
    [],
    invalid,
  );
  if (v.schema !== DEVICE_SCHEMA)
    invalid(`schema is not ${DEVICE_SCHEMA}`, { schema: preview(v.schema) });
  const customer = matching(v.customer, CUSTOMER_PSEUDONYM, 'customer', invalid);
  try {
    decodePublicKey(typeof v.deviceKey === 'string' ? v.deviceKey : '');
  } catch (cause) {
    throw new ResidencyError(
      'DEVICE_REGISTRATION_INVALID',
      'device registration: deviceKey is not a base64 Ed25519 key',
      {
        cause,
      },
    );
  }
  return {
    schema: DEVICE_SCHEMA,
    customer,
    deviceKey: v.deviceKey as string,
    registeredAt: rfc3339(v.registeredAt, 'registeredAt', invalid),
  };
}

/** What the customer signs: DSSE PAE of the payload. */
export function deviceSigningMessage(payload: Uint8Array): Uint8Array {
  return pae(DEVICE_PAYLOAD_TYPE, payload);
}

export function deviceEnvelope(
  payload: Uint8Array,
  signatures: readonly DetachedSignature[],
): string {
  return serializeEnvelope(buildEnvelope(DEVICE_PAYLOAD_TYPE, payload, signatures));
}

/**
 * Opens a device registration signed by `customerKey` (raw 32 bytes), the
 * key of the customer's logged enrollment: the payload must name that
 * customer (DEVICE_REGISTRATION_INVALID) and carry its valid signature
 * (DEVICE_SIGNATURE_MISSING / _INVALID).
 */
export function openDeviceRegistration(
  envelope: string | Uint8Array,
  customerKey: Uint8Array,
): OpenedDeviceRegistration {
  const value = parseEnvelopeText(
    envelope,
    MAX_DEVICE_ENVELOPE_BYTES,
    'DEVICE_REGISTRATION_INVALID',
  );
  const checked = checkEnvelope(
    value,
    DEVICE_PAYLOAD_TYPE,
    'DEVICE_REGISTRATION_INVALID',
    MAX_DEVICE_BYTES,
  );
  verifyParties(checked.envelope, checked.payload, [{ name: 'customer', key: customerKey }], {
    missing: 'DEVICE_SIGNATURE_MISSING',
    invalid: 'DEVICE_SIGNATURE_INVALID',
  });
  const registration = parseDeviceRegistration(checked.payload);
  if (registration.customer !== customerPseudonym(customerKey)) {
    invalid('the registration names another customer', {
      customer: registration.customer,
      signer: customerPseudonym(customerKey),
    });
  }
  const deviceKey = decodePublicKey(registration.deviceKey);
  return { registration, payload: checked.payload, deviceKey, device: devicePseudonym(deviceKey) };
}
