import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCanonical } from '@glasshouse/attest';
import { MetadataKind, Metadata, Signature } from '@tufjs/models';
import { afterAll, describe, expect, it } from 'vitest';
import {
  generateTufKey,
  loadTufKey,
  parseTufPublicKey,
  parseTufSignature,
  saveTufKey,
  signMetadata,
  tufKeyFromPem,
  tufKeyId,
  tufKeyToPem,
  tufModelKey,
  verifyMetadataSignature,
} from '../src/tuf-keys.js';
import { buildReleases, buildRoot, targetFileFor } from '../src/tuf-metadata.js';
import { codeOf } from '../../errors/test/codes.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('TUF key IDs', () => {
  // The ed25519 keys of the TUF specification's root.json and targets.json examples.
  it.each([
    [
      '72378e5bc588793e58f81c8533da64a2e8f1565c1fcc7f253496394ffc52542c',
      '1bf1c6e3cdd3d3a8420b19199e27511999850f4b376c4547b2f32fba7e80fca3',
    ],
    [
      'b6e40fb71a6041212a3d84331336ecaa1f48a0c523f80ccc762a034c727606fa',
      'f761033eb880143c52358d941d987ca5577675090e2215e856ba0099bc0ce4f6',
    ],
  ])('match the specification examples (%s)', (publicHex, keyid) => {
    expect(tufKeyId({ keytype: 'ed25519', scheme: 'ed25519', keyval: { public: publicHex } })).toBe(
      keyid,
    );
  });
});

describe('TUF signing keys', () => {
  it('round-trip through PEM PKCS#8 and a 0600 file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tuf-keys-'));
    dirs.push(dir);
    const key = generateTufKey();
    expect(tufKeyToPem(key)).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(tufKeyFromPem(tufKeyToPem(key)).keyid).toBe(key.keyid);
    await saveTufKey(join(dir, 'k.pem'), key);
    expect((await stat(join(dir, 'k.pem'))).mode & 0o777).toBe(0o600);
    expect((await loadTufKey(join(dir, 'k.pem'))).publicKey).toEqual(key.publicKey);
    await expect(saveTufKey(join(dir, 'k.pem'), key)).rejects.toThrow(/EEXIST/);
  });

  it('refuse a non-Ed25519 or garbled PEM', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(
      codeOf(() => tufKeyFromPem(rsa.export({ format: 'pem', type: 'pkcs8' }).toString())),
    ).toBe('KEY_MALFORMED');
    expect(
      codeOf(() => tufKeyFromPem('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')),
    ).toBe('KEY_MALFORMED');
  });

  it('parse public keys strictly', () => {
    const key = generateTufKey().publicKey;
    expect(parseTufPublicKey(JSON.parse(JSON.stringify(key)))).toEqual(key);
    expect(codeOf(() => parseTufPublicKey({ ...key, keyid_hash_algorithms: ['sha256'] }))).toBe(
      'KEY_MALFORMED',
    );
    expect(codeOf(() => parseTufPublicKey({ ...key, scheme: 'rsassa-pss-sha256' }))).toBe(
      'KEY_MALFORMED',
    );
    expect(
      codeOf(() =>
        parseTufPublicKey({ ...key, keyval: { public: key.keyval.public.toUpperCase() } }),
      ),
    ).toBe('KEY_MALFORMED');
    expect(codeOf(() => parseTufPublicKey('ed25519'))).toBe('KEY_MALFORMED');
  });

  it('parse signatures strictly', () => {
    expect(codeOf(() => parseTufSignature({ keyid: 'ab', sig: 'cd' }))).toBe('SIGNATURE_MALFORMED');
    expect(
      codeOf(() => parseTufSignature({ keyid: 'a'.repeat(64), sig: 'b'.repeat(128), x: 1 })),
    ).toBe('SIGNATURE_MALFORMED');
    expect(codeOf(() => parseTufSignature(null))).toBe('SIGNATURE_MALFORMED');
  });
});

describe('signatures over canonical JSON', () => {
  const key = generateTufKey();
  const other = generateTufKey();
  const root = buildRoot({
    version: 1,
    expires: '2030-01-01T00:00:00Z',
    roles: {
      root: { keys: [key.publicKey, other.publicKey], threshold: 2 },
      targets: { keys: [key.publicKey], threshold: 1 },
      snapshot: { keys: [key.publicKey], threshold: 1 },
      timestamp: { keys: [key.publicKey], threshold: 1 },
    },
  });
  const releases = buildReleases({
    version: 3,
    expires: '2030-01-01T00:00:00Z',
    targets: [
      targetFileFor('demo-rules/1.0.0/demo-rules-1.0.0.tar', new Uint8Array([1, 2, 3]), {
        logIndex: 7,
        note: 'quote " and backslash \\ and é',
      }),
    ],
  });

  it("@glasshouse/attest's encoder agrees with the bytes tuf-js verifies", () => {
    // A signature over attest's canonical bytes verifies under @tufjs/models
    // (which canonicalises with @tufjs/canonical-json) only if the bytes agree.
    for (const md of [root, releases]) {
      const sig = Buffer.from(key.sign(encodeCanonical(md.signed.toJSON()))).toString('hex');
      const probe = {
        signed: md.signed,
        signatures: { [key.keyid]: new Signature({ keyID: key.keyid, sig }) },
      };
      expect(() => {
        tufModelKey(key.publicKey).verifySignature(probe);
      }).not.toThrow();
    }
  });

  it('verify with @tufjs/models as tuf-js does, and fail for another key or changed content', () => {
    const signature = signMetadata(root, key);
    expect(signature.keyid).toBe(key.keyid);
    expect(verifyMetadataSignature(root, signature, key.publicKey)).toBe(true);
    expect(() => {
      tufModelKey(key.publicKey).verifySignature(root);
    }).not.toThrow();
    expect(
      verifyMetadataSignature(root, { ...signature, keyid: other.keyid }, other.publicKey),
    ).toBe(false);
    expect(verifyMetadataSignature(releases, signature, key.publicKey)).toBe(false);
    const copy = Metadata.fromJSON(MetadataKind.Root, root.toJSON());
    expect(verifyMetadataSignature(copy, signature, key.publicKey)).toBe(true);
  });
});
