import { describe, expect, it } from 'vitest';
import {
  customerPseudonym,
  DEVICE_SCHEMA,
  deviceEnvelope,
  deviceSigningMessage,
  devicePseudonym,
  encodeDeviceRegistration,
  encodeEnrollment,
  encodePublicKey,
  enrollmentEnvelope,
  enrollmentSigningMessage,
  expectCode,
  generateEd25519KeyPair,
  keyId,
  MAX_ENROLLMENT_BYTES,
  openCustomerEnrollment,
  openDeviceRegistration,
  openEnrollmentEnvelope,
  parseDeviceRegistration,
  parseEnrollment,
  utf8Json,
  type DeviceRegistration,
  type Enrollment,
} from './helpers.js';
import { enrollmentOf, sign, signedEnrollment, vendor } from './fixtures.js';

const customer = generateEd25519KeyPair();
const enrollment = enrollmentOf(customer, 'EU');

describe('enrollment payload', () => {
  it('round-trips; the customer is the pseudonym of its key (c- + 32 hex of SHA-256)', () => {
    expect(parseEnrollment(encodeEnrollment(enrollment))).toEqual(enrollment);
    expect(enrollment.customer).toMatch(/^c-[0-9a-f]{32}$/);
    expect(customerPseudonym(customer.publicKey)).toBe(enrollment.customer);
  });

  it('REGION_UNKNOWN for a region outside the table', () => {
    expectCode(
      () => parseEnrollment(utf8Json({ ...enrollment, region: 'MARS' })),
      'REGION_UNKNOWN',
    );
    expectCode(() => encodeEnrollment({ ...enrollment, region: 'XX' }), 'REGION_UNKNOWN');
  });

  const cases: [string, (e: Enrollment) => unknown][] = [
    ['wrong schema', (e) => ({ ...e, schema: 'glasshouse.enrollment/v0' })],
    ['unknown field', (e) => ({ ...e, name: 'ACME Corp' })],
    ['missing sequence', (e) => ({ ...e, sequence: undefined })],
    ['sequence 0', (e) => ({ ...e, sequence: 0 })],
    ['sequence as string', (e) => ({ ...e, sequence: '1' })],
    ['customer not a pseudonym', (e) => ({ ...e, customer: 'ACME' })],
    // DATA-HALF "Enrollment": the pseudonym must be the key's, so nobody can enroll a customer under another key.
    [
      'pseudonym of another key',
      (e) => ({ ...e, customerKey: encodePublicKey(generateEd25519KeyPair().publicKey) }),
    ],
    ['customerKey not 32 bytes', (e) => ({ ...e, customerKey: 'AAAA' })],
    ['region badly formed', (e) => ({ ...e, region: 'eu' })],
    ['enrolledAt not RFC 3339', (e) => ({ ...e, enrolledAt: 'yesterday' })],
  ];
  for (const [name, edit] of cases) {
    it(`refuses: ${name} (ENROLLMENT_INVALID)`, () => {
      expectCode(() => parseEnrollment(utf8Json(edit(enrollment))), 'ENROLLMENT_INVALID');
    });
  }

  it('refuses oversize and non-canonical bytes', () => {
    expectCode(
      () => parseEnrollment(new Uint8Array(MAX_ENROLLMENT_BYTES + 1)),
      'ENROLLMENT_INVALID',
    );
    expectCode(
      () => parseEnrollment(new TextEncoder().encode(JSON.stringify(enrollment, null, 1))),
      'ENROLLMENT_INVALID',
    );
  });
});

describe('enrollment envelope: the customer AND the vendor sign', () => {
  it('opens with both; the router checks the customer signature first, then co-signs', () => {
    const fromCustomer = signedEnrollment(enrollment, [customer]);
    const checked = openCustomerEnrollment(fromCustomer);
    expect(checked.enrollment).toEqual(enrollment);
    expect(checked.customerSignature.keyid).toBe(keyId(customer.publicKey));
    const payload = checked.payload;
    const full = enrollmentEnvelope(payload, [
      checked.customerSignature,
      sign(vendor, enrollmentSigningMessage(payload)),
    ]);
    expect(openEnrollmentEnvelope(full, { vendorKey: vendor.publicKey }).enrollment).toEqual(
      enrollment,
    );
  });

  it('ENROLLMENT_SIGNATURE_MISSING without the customer or without the vendor', () => {
    // The vendor alone cannot place a customer.
    expectCode(
      () =>
        openEnrollmentEnvelope(signedEnrollment(enrollment, [vendor]), {
          vendorKey: vendor.publicKey,
        }),
      'ENROLLMENT_SIGNATURE_MISSING',
    );
    expectCode(
      () =>
        openEnrollmentEnvelope(signedEnrollment(enrollment, [customer]), {
          vendorKey: vendor.publicKey,
        }),
      'ENROLLMENT_SIGNATURE_MISSING',
    );
    expectCode(
      () => openCustomerEnrollment(signedEnrollment(enrollment, [vendor])),
      'ENROLLMENT_SIGNATURE_MISSING',
    );
  });

  it('ENROLLMENT_SIGNATURE_INVALID for a forged signature by a known key', () => {
    const payload = encodeEnrollment(enrollment);
    const message = enrollmentSigningMessage(payload);
    const forged = enrollmentEnvelope(payload, [
      { keyid: keyId(customer.publicKey), sig: sign(vendor, message).sig },
      sign(vendor, message),
    ]);
    expectCode(
      () => openEnrollmentEnvelope(forged, { vendorKey: vendor.publicKey }),
      'ENROLLMENT_SIGNATURE_INVALID',
    );
    expectCode(() => openCustomerEnrollment(forged), 'ENROLLMENT_SIGNATURE_INVALID');
  });

  it('a vendor re-homing a customer with a key of its own fails: the pseudonym is not its key', () => {
    const rogue = generateEd25519KeyPair();
    const rehomed = { ...enrollmentOf(rogue, 'MEA', 2), customer: enrollment.customer };
    const payload = utf8Json(rehomed);
    const text = enrollmentEnvelope(payload, [
      sign(rogue, enrollmentSigningMessage(payload)),
      sign(vendor, enrollmentSigningMessage(payload)),
    ]);
    expectCode(
      () => openEnrollmentEnvelope(text, { vendorKey: vendor.publicKey }),
      'ENROLLMENT_INVALID',
    );
  });

  it('refuses a policy envelope presented as an enrollment (payload type)', () => {
    const text = signedEnrollment(enrollment, [customer, vendor]).replace(
      'application/vnd.glasshouse.enrollment+json',
      'application/vnd.glasshouse.residency-policy+json',
    );
    expectCode(
      () => openEnrollmentEnvelope(text, { vendorKey: vendor.publicKey }),
      'ENROLLMENT_INVALID',
    );
  });
});

describe('device registration: signed by the customer key', () => {
  const device = generateEd25519KeyPair();
  const registration: DeviceRegistration = {
    schema: DEVICE_SCHEMA,
    customer: enrollment.customer,
    deviceKey: encodePublicKey(device.publicKey),
    registeredAt: '2026-12-04T17:06:00Z',
  };
  const signed = (signer = customer, reg: DeviceRegistration = registration): string => {
    const payload = encodeDeviceRegistration(reg);
    return deviceEnvelope(payload, [sign(signer, deviceSigningMessage(payload))]);
  };

  it('opens and names the device by its pseudonym', () => {
    const opened = openDeviceRegistration(signed(), customer.publicKey);
    expect(opened.registration).toEqual(registration);
    expect(opened.device).toBe(devicePseudonym(device.publicKey));
    expect(opened.device).toMatch(/^d-[0-9a-f]{32}$/);
    expect(parseDeviceRegistration(encodeDeviceRegistration(registration))).toEqual(registration);
  });

  it('DEVICE_SIGNATURE_MISSING when another key signed; _INVALID when forged', () => {
    expectCode(
      () => openDeviceRegistration(signed(vendor), customer.publicKey),
      'DEVICE_SIGNATURE_MISSING',
    );
    const payload = encodeDeviceRegistration(registration);
    const forged = deviceEnvelope(payload, [
      { keyid: keyId(customer.publicKey), sig: sign(vendor, deviceSigningMessage(payload)).sig },
    ]);
    expectCode(
      () => openDeviceRegistration(forged, customer.publicKey),
      'DEVICE_SIGNATURE_INVALID',
    );
  });

  it("DEVICE_REGISTRATION_INVALID when the payload names another customer than the signer's", () => {
    const otherCustomer = generateEd25519KeyPair();
    expectCode(
      () => openDeviceRegistration(signed(otherCustomer), otherCustomer.publicKey),
      'DEVICE_REGISTRATION_INVALID',
    );
  });

  it('DEVICE_REGISTRATION_INVALID for bad payloads and envelopes', () => {
    for (const bad of [
      { ...registration, deviceKey: 'AAAA' },
      { ...registration, schema: 'x' },
      { ...registration, host: 'pc-7' },
      { ...registration, registeredAt: 1 },
    ]) {
      expectCode(() => parseDeviceRegistration(utf8Json(bad)), 'DEVICE_REGISTRATION_INVALID');
    }
    expectCode(
      () => openDeviceRegistration('{}', customer.publicKey),
      'DEVICE_REGISTRATION_INVALID',
    );
    expectCode(
      () => openDeviceRegistration('x'.repeat(17 * 1024), customer.publicKey),
      'DEVICE_REGISTRATION_INVALID',
    );
  });
});
