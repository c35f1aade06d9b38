// The vendor and the supervisor keep PKCS#8 PEM keys and sign with node:crypto; verification here uses
// @noble/curves (RFC 8032). Both must agree on every signature, so the envelopes are made the parties' way.
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  encodePolicy,
  generateEd25519KeyPair,
  keyId,
  openPolicyEnvelope,
  policyEnvelope,
  policySigningMessage,
  signEd25519,
  verifyEd25519,
} from './helpers.js';
import { policyV1 } from './fixtures.js';

function nodeParty(): { pem: string; raw: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  return {
    pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    raw: new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url')),
  };
}

describe('Ed25519 interop with node:crypto', () => {
  it('a policy signed with PEM keys through node:crypto opens here', () => {
    const vendor = nodeParty();
    const supervisor = nodeParty();
    const payload = encodePolicy(policyV1);
    const message = policySigningMessage(payload);
    const text = policyEnvelope(payload, [
      { keyid: keyId(vendor.raw), sig: sign(null, message, vendor.pem) },
      { keyid: keyId(supervisor.raw), sig: sign(null, message, supervisor.pem) },
    ]);
    const opened = openPolicyEnvelope(text, {
      vendorKey: vendor.raw,
      supervisorKey: supervisor.raw,
    });
    expect(opened.policy).toEqual(policyV1);
  });

  it('signatures made here verify with node:crypto, and the other way round', () => {
    const pair = generateEd25519KeyPair();
    const message = new TextEncoder().encode('glasshouse');
    const sig = signEd25519(pair.seed, message);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pair.publicKey]);
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    expect(verify(null, message, key, sig)).toBe(true);
    const party = nodeParty();
    expect(verifyEd25519(party.raw, message, sign(null, message, party.pem))).toBe(true);
    expect(verifyEd25519(party.raw, message.subarray(1), sign(null, message, party.pem))).toBe(
      false,
    );
  });
});
