/**
 * The trust bundle's checks on their own: a root whose root role holds a
 * vendor and a supervisor key, a bundle signed by both, and one change at a
 * time. (The whole path, from `start` to `agent init --trust`, is in the
 * CLI's start test.)
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { EnvelopeSigner } from '@glasshouse/attest';
import { codeOf } from '../../errors/test/codes.js';
import {
  checkResidencyIsSupervisors,
  encodeTrustBundlePayload,
  openTrustBundle,
  trustBundleEnvelope,
  trustBundleFingerprint,
  verifyTrustBundleFingerprint,
  TRUST_BUNDLE_SCHEMA,
  type TrustBundle,
  tufKeyId,
  type TufPublicKey,
} from '../src/index.js';

interface TufSigningKey extends EnvelopeSigner {
  readonly keyid: string;
  readonly publicKey: TufPublicKey;
}

/** A TUF Ed25519 key (TUF 4.2) that signs DSSE PAE. */
function generateTufKey(): TufSigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const x = publicKey.export({ format: 'jwk' }).x ?? '';
  const key: TufPublicKey = {
    keytype: 'ed25519',
    scheme: 'ed25519',
    keyval: { public: Buffer.from(x, 'base64url').toString('hex') },
  };
  return { keyid: tufKeyId(key), publicKey: key, sign: (m) => sign(null, m, privateKey) };
}

const vendorRoot = generateTufKey();
const supervisorRoot = generateTufKey();
const supervisorRelease = generateTufKey();

function bundleFor(rootKeys: readonly TufSigningKey[], supervisor = supervisorRoot): TrustBundle {
  return {
    schema: TRUST_BUNDLE_SCHEMA,
    tufRoot: {
      signed: {
        _type: 'root',
        keys: Object.fromEntries(rootKeys.map((k) => [k.keyid, k.publicKey])),
        roles: { root: { keyids: rootKeys.map((k) => k.keyid), threshold: 2 } },
      },
      signatures: [],
    },
    witnessPolicy: 'log example.com/log+01234567+AAAA http://127.0.0.1:8480/\n',
    repoUrl: 'http://127.0.0.1:8460',
    logUrl: 'http://127.0.0.1:8480/',
    rulesName: 'demo-rules',
    source: 'file:///srv/demo-source',
    supervisor: {
      publicKeyPem: 'PEM',
      verifierId: 'https://supervisor.example/v1',
      tufKeys: { root: supervisor.publicKey, release: supervisorRelease.publicKey },
    },
    builder: { publicKeyPem: 'PEM', builderId: 'https://vendor.example/builder/v1' },
  };
}

const bytes = (bundle: TrustBundle, signers: readonly EnvelopeSigner[]): Uint8Array =>
  Buffer.from(trustBundleEnvelope(encodeTrustBundlePayload(bundle), signers));

const good = bundleFor([vendorRoot, supervisorRoot]);

describe('trust bundle', () => {
  it('opens when the vendor and the supervisor root keys both signed', () => {
    const opened = openTrustBundle(bytes(good, [vendorRoot, supervisorRoot]));
    expect(opened.rulesName).toBe('demo-rules');
    expect(tufKeyId(opened.supervisor.tufKeys.root)).toBe(supervisorRoot.keyid);
  });

  it('refuses one signature only, whichever it is', () => {
    expect(codeOf(() => openTrustBundle(bytes(good, [vendorRoot])))).toBe(
      'TRUST_BUNDLE_SIGNATURE_MISSING',
    );
    expect(codeOf(() => openTrustBundle(bytes(good, [supervisorRoot])))).toBe(
      'TRUST_BUNDLE_SIGNATURE_MISSING',
    );
  });

  it("refuses the supervisor's key listed again under another keyid as the vendor's", () => {
    const bundle = bundleFor([supervisorRoot]);
    const twice = {
      ...bundle,
      tufRoot: {
        ...bundle.tufRoot,
        signed: {
          ...bundle.tufRoot.signed,
          keys: {
            [supervisorRoot.keyid]: supervisorRoot.publicKey,
            ['0'.repeat(64)]: supervisorRoot.publicKey,
          },
          roles: { root: { keyids: [supervisorRoot.keyid, '0'.repeat(64)], threshold: 2 } },
        },
      },
    };
    const alias = { keyid: '0'.repeat(64), sign: (m: Uint8Array) => supervisorRoot.sign(m) };
    expect(codeOf(() => openTrustBundle(bytes(twice, [alias, supervisorRoot])))).toBe(
      'TRUST_BUNDLE_SIGNATURE_MISSING',
    );
  });

  it('refuses keys that disagree with the TUF root', () => {
    const stranger = generateTufKey();
    // Signed by a key that is not in the root role.
    expect(codeOf(() => openTrustBundle(bytes(good, [stranger, supervisorRoot])))).toBe(
      'TRUST_BUNDLE_KEY_MISMATCH',
    );
    // Names a supervisor root key the root does not list.
    const other = bundleFor([vendorRoot, supervisorRoot], stranger);
    expect(codeOf(() => openTrustBundle(bytes(other, [vendorRoot, supervisorRoot])))).toBe(
      'TRUST_BUNDLE_KEY_MISMATCH',
    );
  });

  it('refuses a signature that does not verify', () => {
    const forged = { keyid: vendorRoot.keyid, sign: (m: Uint8Array) => stranger64(m) };
    expect(codeOf(() => openTrustBundle(bytes(good, [forged, supervisorRoot])))).toBe(
      'TRUST_BUNDLE_SIGNATURE_INVALID',
    );
  });

  it('refuses malformed and oversized bundles', () => {
    const malformed = (b: Uint8Array | string): string =>
      codeOf(() => openTrustBundle(typeof b === 'string' ? Buffer.from(b) : b));
    expect(malformed('')).toBe('TRUST_BUNDLE_MALFORMED');
    expect(malformed('{"payload":')).toBe('TRUST_BUNDLE_MALFORMED');
    expect(malformed(Buffer.alloc(1024 * 1024 + 1, 0x20))).toBe('TRUST_BUNDLE_MALFORMED');
    const envelope = JSON.parse(
      Buffer.from(bytes(good, [vendorRoot, supervisorRoot])).toString(),
    ) as {
      payloadType: string;
    };
    expect(malformed(JSON.stringify({ ...envelope, payloadType: 'application/json' }))).toBe(
      'TRUST_BUNDLE_MALFORMED',
    );
    const noBuilder = { ...good, builder: undefined } as unknown as TrustBundle;
    expect(malformed(bytes(noBuilder, [vendorRoot, supervisorRoot]))).toBe(
      'TRUST_BUNDLE_MALFORMED',
    );
  });

  it('checks the fingerprint, with or without a sha256: prefix and colons', () => {
    const b = bytes(good, [vendorRoot, supervisorRoot]);
    const fp = trustBundleFingerprint(b);
    expect(
      codeOf(() => {
        verifyTrustBundleFingerprint(b, fp);
      }),
    ).toBe('accepted');
    expect(
      codeOf(() => {
        verifyTrustBundleFingerprint(b, `sha256:${fp.toUpperCase()}`);
      }),
    ).toBe('accepted');
    expect(
      codeOf(() => {
        verifyTrustBundleFingerprint(b, fp.replace(/(..)(?!$)/g, '$1:'));
      }),
    ).toBe('accepted');
    expect(
      codeOf(() => {
        verifyTrustBundleFingerprint(b, '0'.repeat(64));
      }),
    ).toBe('TRUST_BUNDLE_FINGERPRINT_MISMATCH');
    expect(
      codeOf(() => {
        verifyTrustBundleFingerprint(b, 'abc');
      }),
    ).toBe('TRUST_BUNDLE_FINGERPRINT_INVALID');
  });
});

/** 64 bytes that are no signature. */
function stranger64(message: Uint8Array): Uint8Array {
  return Uint8Array.from({ length: 64 }, (_, i) => (message[i] ?? 0) ^ 0x5a);
}

describe('trust bundle: the optional residency field', () => {
  const key32 = (n: number): string => Buffer.alloc(32, n).toString('base64');
  const residency = {
    logPolicy: 'log example.com/residency+01234567+AAAA http://127.0.0.1:8481/\n',
    vendorKey: key32(1),
    supervisorKey: key32(2),
    keyRelease: key32(3),
  };

  it('opens a bundle with it, and one without it (older bundles stay valid)', () => {
    const opened = openTrustBundle(bytes({ ...good, residency }, [vendorRoot, supervisorRoot]));
    expect(opened.residency).toEqual(residency);
    expect(openTrustBundle(bytes(good, [vendorRoot, supervisorRoot])).residency).toBeUndefined();
  });

  it.each([
    ['a key that is not 32 bytes', { ...residency, keyRelease: 'AAAA' }],
    ['one key for both parties', { ...residency, supervisorKey: residency.vendorKey }],
    ['an unknown field', { ...residency, extra: 'x' }],
    ['a router URL that is not http(s)', { ...residency, routerUrl: 'file:///x' }],
    ['no log policy', { ...residency, logPolicy: '' }],
  ])('refuses %s with TRUST_BUNDLE_MALFORMED', (_what, value) => {
    const bundle = { ...good, residency: value } as unknown as TrustBundle;
    expect(codeOf(() => openTrustBundle(bytes(bundle, [vendorRoot, supervisorRoot])))).toBe(
      'TRUST_BUNDLE_MALFORMED',
    );
  });

  describe('the supervisor vouches only for its own residency keys', () => {
    const own = { supervisorKey: residency.supervisorKey, keyRelease: residency.keyRelease };

    it('accepts a field naming its keys, and a bundle without the field', () => {
      expect(() => {
        checkResidencyIsSupervisors(residency, own);
      }).not.toThrow();
      expect(() => {
        checkResidencyIsSupervisors(undefined, own);
      }).not.toThrow();
      expect(() => {
        checkResidencyIsSupervisors(undefined, undefined);
      }).not.toThrow();
    });

    it.each([
      ["the vendor's own key-release key", { ...residency, keyRelease: key32(9) }, own],
      ['another supervisor key', { ...residency, supervisorKey: key32(8) }, own],
      ['residency keys while the supervisor holds none', residency, undefined],
    ])('refuses %s with TRUST_BUNDLE_RESIDENCY_FOREIGN', (_what, value, keys) => {
      const check = (): void => {
        checkResidencyIsSupervisors(value, keys);
      };
      expect(codeOf(check)).toBe('TRUST_BUNDLE_RESIDENCY_FOREIGN');
    });
  });
});
