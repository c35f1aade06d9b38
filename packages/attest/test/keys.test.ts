import { describe, expect, it } from 'vitest';
import {
  computeKeyId,
  formatPublicKeyFile,
  generateSigningKey,
  keyDictWithIdFor,
  publicKeyFromKeyDict,
  publicKeyFromPem,
  publicKeyFromRaw,
  publicKeyToPem,
  signingKeyFromPem,
  signingKeyFromSeed,
  signingKeyToPem,
} from '../src/keys.js';
import { codeOf } from '../../errors/test/codes.js';
import { readVector } from './vectors.js';

interface KeyVector {
  seedByte: number;
  public: string;
  keyid: string;
  publicKeyFile: unknown;
}

describe('Ed25519 keys and securesystemslib key IDs', () => {
  for (const name of ['builder', 'rebuilder', 'owner']) {
    it(`derives the securesystemslib public key and keyid: ${name}`, () => {
      const v = readVector(`legacy/key-${name}.json`) as KeyVector;
      const key = signingKeyFromSeed(new Uint8Array(32).fill(v.seedByte));
      expect(Buffer.from(key.publicKey).toString('hex')).toBe(v.public);
      expect(key.keyid).toBe(v.keyid);
      expect(computeKeyId(key.publicKey)).toBe(v.keyid);
      expect(JSON.parse(formatPublicKeyFile(key.verifier))).toEqual(v.publicKeyFile);
      expect(publicKeyFromKeyDict(v.publicKeyFile).keyid).toBe(v.keyid);
    });
  }

  it('signs and verifies; the verifier refuses other messages and sizes', () => {
    const key = generateSigningKey();
    const message = new TextEncoder().encode('hello');
    const sig = key.sign(message);
    expect(key.verifier.verify(message, sig)).toBe(true);
    expect(key.verifier.verify(new TextEncoder().encode('hellO'), sig)).toBe(false);
    expect(key.verifier.verify(message, sig.subarray(0, 63))).toBe(false);
    expect(generateSigningKey().verifier.verify(message, sig)).toBe(false);
  });

  it('round-trips raw public keys and PEM', () => {
    const key = generateSigningKey();
    expect(publicKeyFromRaw(key.publicKey).keyid).toBe(key.keyid);
    expect(publicKeyFromPem(publicKeyToPem(key.verifier)).keyid).toBe(key.keyid);
    const again = signingKeyFromPem(signingKeyToPem(key));
    expect(again.keyid).toBe(key.keyid);
  });

  it('keeps the private key out of the value', () => {
    const key = signingKeyFromSeed(new Uint8Array(32).fill(9));
    const text = JSON.stringify(key);
    expect(text).not.toContain(Buffer.alloc(32, 9).toString('hex'));
    expect(Object.keys(key).sort()).toEqual(['keyid', 'publicKey', 'sign', 'verifier']);
  });

  it('writes a layout key dict carrying its keyid', () => {
    const key = signingKeyFromSeed(new Uint8Array(32).fill(1));
    const dict = keyDictWithIdFor(key.verifier);
    expect(dict.keyid).toBe(key.keyid);
    expect(publicKeyFromKeyDict(dict).keyid).toBe(key.keyid);
  });

  it('refuses malformed keys with codes', () => {
    const pub = Buffer.from(generateSigningKey().publicKey).toString('hex');
    const good = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: pub } };
    expect(codeOf(() => signingKeyFromSeed(new Uint8Array(31)))).toBe('KEY_MALFORMED');
    expect(codeOf(() => publicKeyFromRaw(new Uint8Array(33)))).toBe('KEY_MALFORMED');
    expect(codeOf(() => publicKeyFromPem('not a pem'))).toBe('KEY_MALFORMED');
    expect(codeOf(() => publicKeyFromKeyDict(good))).toBe('accepted');
    expect(codeOf(() => publicKeyFromKeyDict(null))).toBe('KEY_MALFORMED');
    expect(codeOf(() => publicKeyFromKeyDict({ ...good, keytype: 'rsa' }))).toBe(
      'KEY_UNSUPPORTED_TYPE',
    );
    expect(codeOf(() => publicKeyFromKeyDict({ ...good, scheme: 'ed448' }))).toBe(
      'KEY_UNSUPPORTED_TYPE',
    );
    expect(
      codeOf(() => publicKeyFromKeyDict({ ...good, keyval: { public: pub.toUpperCase() } })),
    ).toBe('KEY_MALFORMED');
    expect(
      codeOf(() => publicKeyFromKeyDict({ ...good, keyval: { public: pub, private: 'ab' } })),
    ).toBe('KEY_MALFORMED');
    expect(codeOf(() => publicKeyFromKeyDict({ ...good, keyid: '00'.repeat(32) }))).toBe(
      'KEY_ID_MISMATCH',
    );
    expect(codeOf(() => publicKeyFromKeyDict({ ...good, keyid_hash_algorithms: 'sha256' }))).toBe(
      'KEY_MALFORMED',
    );
  });
});
