// RFC 9180 base mode over the crypto interface: the published vectors (appendix A.1, AES-128-GCM,
// the same code path as AES-256-GCM but for Nk), and interoperability with an independent HPKE
// implementation (@hpke/core, a dev dependency) for the suite batches use, in both directions.
import { Aes256Gcm, CipherSuite, HkdfSha256 } from '@hpke/core';
import { DhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519';
import { describe, expect, it } from 'vitest';
import { randomBytes, x25519PublicKey } from '@glasshouse/crypto';
import { HpkeError, hpkeOpenBase, hpkeSealBase } from '../src/hpke.js';

const hex = (s: string): Uint8Array =>
  Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

// RFC 9180 A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, mode_base, sequence 0.
const A11 = {
  info: '4f6465206f6e2061204772656369616e2055726e',
  skEm: '52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736',
  pkEm: '37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431',
  skRm: '4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8',
  pkRm: '3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d',
  aad: '436f756e742d30',
  pt: '4265617574792069732074727574682c20747275746820626561757479',
  ct: 'f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a',
};

describe('HPKE base mode (RFC 9180 §6.1)', () => {
  it('seals and opens the RFC 9180 A.1.1 vector', () => {
    const sealed = hpkeSealBase({
      aead: 'AES-128-GCM',
      recipientPublicKey: hex(A11.pkRm),
      info: hex(A11.info),
      aad: hex(A11.aad),
      plaintext: hex(A11.pt),
      ephemeralPrivateKey: hex(A11.skEm),
    });
    expect(toHex(sealed.enc)).toBe(A11.pkEm);
    expect(toHex(sealed.ct)).toBe(A11.ct);
    const opened = hpkeOpenBase({
      aead: 'AES-128-GCM',
      recipientPrivateKey: hex(A11.skRm),
      recipientPublicKey: hex(A11.pkRm),
      enc: hex(A11.pkEm),
      info: hex(A11.info),
      aad: hex(A11.aad),
      ct: hex(A11.ct),
    });
    expect(toHex(opened)).toBe(A11.pt);
  });

  it('refuses another aad, another info, a changed ciphertext, a small-order or short enc', () => {
    const base = {
      aead: 'AES-128-GCM' as const,
      recipientPrivateKey: hex(A11.skRm),
      recipientPublicKey: hex(A11.pkRm),
      enc: hex(A11.pkEm),
      info: hex(A11.info),
      aad: hex(A11.aad),
      ct: hex(A11.ct),
    };
    const changed = hex(A11.ct);
    changed[0]! ^= 1;
    for (const bad of [
      { aad: hex('436f756e742d31') },
      { info: new Uint8Array(0) },
      { ct: changed },
      { enc: new Uint8Array(32) },
      { enc: hex(A11.pkEm).subarray(1) },
      { aead: 'AES-256-GCM' as const },
    ]) {
      expect(() => hpkeOpenBase({ ...base, ...bad })).toThrow(HpkeError);
    }
  });

  const suite = new CipherSuite({
    kem: new DhkemX25519HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: new Aes256Gcm(),
  });
  const info = new TextEncoder().encode('interop');
  const aad = new TextEncoder().encode('batch');

  it('AES-256-GCM: what @hpke/core seals opens here', async () => {
    const skR = randomBytes(32);
    const pkR = x25519PublicKey(skR);
    const pt = randomBytes(32);
    const sealed = await suite.seal(
      {
        recipientPublicKey: await suite.kem.importKey('raw', new Uint8Array(pkR).buffer, true),
        info,
      },
      pt,
      aad,
    );
    const opened = hpkeOpenBase({
      aead: 'AES-256-GCM',
      recipientPrivateKey: skR,
      recipientPublicKey: pkR,
      enc: new Uint8Array(sealed.enc),
      info,
      aad,
      ct: new Uint8Array(sealed.ct),
    });
    expect(toHex(opened)).toBe(toHex(pt));
  });

  it('AES-256-GCM: what is sealed here opens with @hpke/core', async () => {
    const skR = randomBytes(32);
    const pkR = x25519PublicKey(skR);
    const pt = randomBytes(32);
    const sealed = hpkeSealBase({
      aead: 'AES-256-GCM',
      recipientPublicKey: pkR,
      info,
      aad,
      plaintext: pt,
    });
    const opened = await suite.open(
      {
        recipientKey: {
          privateKey: await suite.kem.importKey('raw', new Uint8Array(skR).buffer, false),
          publicKey: await suite.kem.importKey('raw', new Uint8Array(pkR).buffer, true),
        },
        enc: new Uint8Array(sealed.enc).buffer,
        info,
      },
      new Uint8Array(sealed.ct),
      aad,
    );
    expect(toHex(new Uint8Array(opened))).toBe(toHex(pt));
  });
});
