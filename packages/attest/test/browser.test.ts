// DESIGN.md §10: the portal checks provenance, VSAs and in-toto layouts in
// the reviewer's browser with this package. So: no Node built-ins in src,
// and a browser bundle (esbuild, platform "browser": @glasshouse/crypto's
// @noble engine) verifies in-toto's own signed layout and a DSSE envelope
// signed on the Node side.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { browserBundle, bundleCode, expectNoNodeOnly } from '../../crypto/test/browser.js';
import * as nodeSide from '../src/index.js';

const src = join(import.meta.dirname, '..', 'src');

type Attest = typeof nodeSide;

describe('@glasshouse/attest in a browser', () => {
  it('has no node: imports, Buffer or process in src', () => {
    expectNoNodeOnly(src);
  });

  it('verifies a layout that in-toto signed, and a DSSE envelope signed on Node', async () => {
    const { text, module } = await browserBundle(join(src, 'index.ts'), true);
    expect(text).toContain('@noble');
    const attest = module as Attest;

    const vector = JSON.parse(
      readFileSync(
        join(import.meta.dirname, '..', 'testdata', 'legacy', 'root-layout.json'),
        'utf8',
      ),
    ) as { metablock: unknown };
    const owner = attest.signingKeyFromSeed(new Uint8Array(32).fill(3));
    const layout = attest.parseLayoutMetablock(JSON.stringify(vector.metablock));
    expect(attest.metablockSignedBy(layout, owner.verifier)).toBe(true);
    const other = attest.signingKeyFromSeed(new Uint8Array(32).fill(4));
    expect(attest.metablockSignedBy(layout, other.verifier)).toBe(false);

    const signer = nodeSide.signingKeyFromSeed(new Uint8Array(32).fill(7));
    const payload = new TextEncoder().encode('{"hello":"browser"}');
    const envelope = nodeSide.signEnvelope('application/vnd.test+json', payload, [signer]);
    const key = attest.publicKeyFromRaw(signer.publicKey);
    const verified = attest.verifyEnvelope(envelope, { keys: [key] });
    expect(new TextDecoder().decode(verified.payload)).toBe('{"hello":"browser"}');
    const forged = { ...envelope, payload: attest.toBase64(new TextEncoder().encode('{}')) };
    expect(bundleCode(() => attest.verifyEnvelope(forged, { keys: [key] }))).toBe(
      'ENVELOPE_THRESHOLD_NOT_MET',
    );
  });
});

describe('PEM keys without OpenSSL', () => {
  it('reads what OpenSSL writes and writes what OpenSSL reads', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const publicPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const signing = nodeSide.signingKeyFromPem(privatePem);
    expect(nodeSide.publicKeyFromPem(publicPem).keyid).toBe(signing.keyid);
    // Byte for byte the same PEM text as OpenSSL's.
    expect(nodeSide.signingKeyToPem(signing)).toBe(privatePem);
    expect(nodeSide.publicKeyToPem(signing.verifier)).toBe(publicPem);
    // Text around the block is allowed (RFC 7468 §2).
    expect(nodeSide.publicKeyFromPem(`a comment\n${publicPem}trailing`).keyid).toBe(signing.keyid);
  });

  it('refuses other algorithms as unsupported and broken keys as malformed', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const codeOf = (run: () => unknown): string => bundleCode(run);
    expect(
      codeOf(() =>
        nodeSide.signingKeyFromPem(
          rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
        ),
      ),
    ).toBe('KEY_UNSUPPORTED_TYPE');
    expect(
      codeOf(() =>
        nodeSide.publicKeyFromPem(ec.publicKey.export({ format: 'pem', type: 'spki' }).toString()),
      ),
    ).toBe('KEY_UNSUPPORTED_TYPE');
    const { publicKey } = generateKeyPairSync('ed25519');
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    // A private-key label where a public key is expected; a body cut short; not base64.
    expect(codeOf(() => nodeSide.signingKeyFromPem(pem))).toBe('KEY_MALFORMED');
    const lines = pem.split('\n');
    const short = [lines[0], (lines[1] ?? '').slice(0, 20), lines[2], ''].join('\n');
    expect(codeOf(() => nodeSide.publicKeyFromPem(short))).toBe('KEY_MALFORMED');
    expect(codeOf(() => nodeSide.publicKeyFromPem(pem.replace(/[A-Z]{3}/, '!!!')))).toBe(
      'KEY_MALFORMED',
    );
    expect(codeOf(() => nodeSide.publicKeyFromPem('x'.repeat(100_000)))).toBe('KEY_MALFORMED');
  });
});
