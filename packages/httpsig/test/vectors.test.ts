/**
 * RFC 9421 Appendix B examples (testdata/rfc9421, see its NOTICE.md): the
 * signature base is built byte for byte as published, and Ed25519 signing
 * (deterministic, RFC 8032) reproduces the published signature exactly.
 */
import { createPrivateKey, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  contentDigest,
  jwkThumbprint,
  parseDictionary,
  rawPublicKey,
  serializeDictionary,
  signInput,
  signatureBase,
  type HttpRequestMessage,
  type SignatureInput,
} from '../src/index.js';

interface Vector {
  readonly section: string;
  readonly request: HttpRequestMessage & { readonly body: string };
  readonly label: string;
  readonly signatureInput: string;
  readonly signatureBase: string;
  readonly signature?: string;
}

const dir = new URL('../testdata/rfc9421/', import.meta.url);
const read = (name: string): unknown => JSON.parse(readFileSync(new URL(name, dir), 'utf8'));
const key = read('test-key-ed25519.json') as {
  jwk: Record<string, string>;
  publicKeyPem: string;
  privateKeyPem: string;
};

/** The covered components and parameters of the vector's Signature-Input member. */
function inputOf(v: Vector): SignatureInput {
  const [[label, list] = ['', undefined]] = parseDictionary(v.signatureInput);
  expect(label).toBe(v.label);
  if (list?.kind !== 'inner-list') throw new Error('not an inner list');
  return {
    components: list.items.map((i) => (i.value.type === 'string' ? i.value.value : '')),
    params: list.params,
  };
}

describe('RFC 9421 Appendix B', () => {
  for (const file of ['b21-minimal.json', 'b23-full-coverage.json', 'b26-ed25519.json']) {
    const v = read(file) as Vector;
    it(`${v.section}: the signature base is the published one`, () => {
      expect(signatureBase(v.request, inputOf(v))).toBe(v.signatureBase);
    });
    it(`${v.section}: Signature-Input parses and serialises back unchanged`, () => {
      expect(serializeDictionary(parseDictionary(v.signatureInput))).toBe(v.signatureInput);
    });
  }

  it('B.1.4: the PEM and JWK forms are the same key', () => {
    const fromPem = createPrivateKey(key.privateKeyPem);
    const fromJwk = createPrivateKey({ key: key.jwk, format: 'jwk' });
    expect(rawPublicKey(fromPem)).toEqual(rawPublicKey(fromJwk));
    expect(Buffer.from(rawPublicKey(createPublicKey(key.publicKeyPem))).toString('base64url')).toBe(
      key.jwk.x,
    );
  });

  it('B.2.6: the published ed25519 signature verifies over the published base', () => {
    const v = read('b26-ed25519.json') as Vector;
    const [[, sig] = ['', undefined]] = parseDictionary(v.signature ?? '');
    if (sig?.kind !== 'item' || sig.value.type !== 'bytes') throw new Error('not bytes');
    const publicKey = createPublicKey(key.publicKeyPem);
    expect(verify(null, Buffer.from(v.signatureBase), publicKey, sig.value.value)).toBe(true);
    const tampered = v.signatureBase.replace('/foo', '/bar');
    expect(verify(null, Buffer.from(tampered), publicKey, sig.value.value)).toBe(false);
  });

  it('B.2.6: signing reproduces the published Signature-Input and Signature', () => {
    const v = read('b26-ed25519.json') as Vector;
    const fields = signInput(v.request, v.label, inputOf(v), createPrivateKey(key.privateKeyPem));
    expect(fields['signature-input']).toBe(v.signatureInput);
    expect(fields.signature).toBe(v.signature);
  });

  it('B.2: the test request carries the RFC 9530 sha-512 Content-Digest of its body', () => {
    const v = read('b26-ed25519.json') as Vector;
    const body = new TextEncoder().encode(v.request.body);
    expect(contentDigest(body, 'sha-512')).toBe(v.request.headers['content-digest']);
    // RFC 9530 Appendix B.1 shows the same body's sha-256.
    expect(contentDigest(body)).toBe('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:');
  });
});

describe('RFC 7638 thumbprints of Ed25519 keys', () => {
  it('RFC 8037 Appendix A.3: the example key thumbprint', () => {
    const x = Buffer.from('11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', 'base64url');
    expect(jwkThumbprint(new Uint8Array(x))).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });
});
