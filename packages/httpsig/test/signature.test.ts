import { describe, expect, it } from 'vitest';
import { codeOf } from '../../errors/test/codes.js';
import {
  RequestSigner,
  SIGNED_COMPONENTS,
  jwkThumbprint,
  signRequest,
  verifyRequest,
  type HttpRequestMessage,
  type VerifyOptions,
} from '../src/index.js';
import { newKey } from './fixtures.js';

const NOW = 1_800_000_000;
const alice = newKey();
const mallory = newKey();
const aliceId = jwkThumbprint(alice.publicKey);

const body = new TextEncoder().encode('{"releaseId":"r1"}');
const unsigned = {
  method: 'POST',
  url: 'http://127.0.0.1:8080/publish',
  headers: { host: '127.0.0.1:8080', 'content-type': 'application/json' },
};

function signed(at = NOW, signer = alice): HttpRequestMessage {
  const s = new RequestSigner({ privateKey: signer.privateKey, now: () => at * 1000 });
  const added = s.sign({ ...unsigned, body });
  return { ...unsigned, headers: { ...unsigned.headers, ...added } };
}

const options: VerifyOptions = {
  now: NOW,
  tag: 'glasshouse',
  windowSeconds: 60,
  requiredComponents: [...SIGNED_COMPONENTS, 'content-type'],
  keyFor: (id) => (id === aliceId ? alice.publicKey : undefined),
};

const verifyCode = (m: HttpRequestMessage, o: Partial<VerifyOptions> = {}): string =>
  codeOf(() => verifyRequest(m, { ...options, ...o }));

describe('verifyRequest', () => {
  it('accepts what RequestSigner signed and reports who signed', () => {
    const v = verifyRequest(signed(), options);
    expect(v.keyid).toBe(aliceId);
    expect(v.components).toEqual([...SIGNED_COMPONENTS, 'content-type']);
    expect(v.nonce.length).toBeGreaterThanOrEqual(16);
  });

  it('covers created, keyid, alg, nonce and tag in the Signature-Input', () => {
    const input = String(signed().headers['signature-input']);
    expect(input).toMatch(
      /^sig1=\("@method" "@authority" "@path" "@query" "content-digest" "content-type"\);created=1800000000;keyid="[\w-]{43}";alg="ed25519";nonce="[\w-]{22}";tag="glasshouse"$/,
    );
  });

  it('refuses a request without signature fields', () => {
    expect(verifyCode(unsigned)).toBe('AUTH_SIGNATURE_MISSING');
  });

  it('refuses signatures with another tag', () => {
    expect(verifyCode(signed(), { tag: 'other' })).toBe('AUTH_SIGNATURE_MISSING');
  });

  it('refuses an unknown key', () => {
    expect(verifyCode(signed(NOW, mallory))).toBe('AUTH_KEY_UNKNOWN');
  });

  it('refuses a key id that claims somebody else’s key', () => {
    const s = new RequestSigner({
      privateKey: mallory.privateKey,
      keyid: aliceId,
      now: () => NOW * 1000,
    });
    const m = { ...unsigned, headers: { ...unsigned.headers, ...s.sign({ ...unsigned, body }) } };
    expect(verifyCode(m)).toBe('AUTH_SIGNATURE_INVALID');
  });

  it('refuses created times outside the window, either way', () => {
    expect(verifyCode(signed(NOW - 61))).toBe('AUTH_SIGNATURE_STALE');
    expect(verifyCode(signed(NOW + 61))).toBe('AUTH_SIGNATURE_STALE');
    expect(verifyCode(signed(NOW - 60))).toBe('accepted');
  });

  it('refuses an expired signature', () => {
    const s = new RequestSigner({
      privateKey: alice.privateKey,
      now: () => (NOW - 10) * 1000,
      expiresInSeconds: 5,
    });
    const m = { ...unsigned, headers: { ...unsigned.headers, ...s.sign({ ...unsigned, body }) } };
    expect(verifyCode(m)).toBe('AUTH_SIGNATURE_STALE');
  });

  it('refuses any change to a covered component', () => {
    const m = signed();
    expect(verifyCode({ ...m, method: 'PUT' })).toBe('AUTH_SIGNATURE_INVALID');
    expect(verifyCode({ ...m, url: 'http://127.0.0.1:8080/publish?x' })).toBe(
      'AUTH_SIGNATURE_INVALID',
    );
    expect(verifyCode({ ...m, url: 'http://127.0.0.1:8080/add' })).toBe('AUTH_SIGNATURE_INVALID');
    expect(verifyCode({ ...m, url: 'http://127.0.0.1:9090/publish' })).toBe(
      'AUTH_SIGNATURE_INVALID',
    );
    expect(verifyCode({ ...m, headers: { ...m.headers, 'content-type': 'text/plain' } })).toBe(
      'AUTH_SIGNATURE_INVALID',
    );
    expect(
      verifyCode({ ...m, headers: { ...m.headers, 'content-digest': 'sha-256=:AAAA:' } }),
    ).toBe('AUTH_SIGNATURE_INVALID');
  });

  it('refuses a signature that does not cover what the server requires', () => {
    const fields = signRequest(
      { ...unsigned, headers: { ...unsigned.headers } },
      {
        components: ['@method', '@path'],
        privateKey: alice.privateKey,
        params: { created: NOW, keyid: aliceId, nonce: 'n'.repeat(22), tag: 'glasshouse' },
      },
    );
    const m = { ...unsigned, headers: { ...unsigned.headers, ...fields } };
    expect(verifyCode(m)).toBe('AUTH_COMPONENTS_INCOMPLETE');
  });

  it('refuses a covered field the request does not carry', () => {
    const m = signed();
    const rest = { ...m.headers };
    delete rest['content-type'];
    expect(verifyCode({ ...m, headers: rest })).toBe('AUTH_COMPONENT_MISSING');
  });

  it.each([
    [
      'another algorithm',
      (i: string) => i.replace('alg="ed25519"', 'alg="rsa-pss-sha512"'),
      'AUTH_ALGORITHM_UNSUPPORTED',
    ],
    ['no alg', (i: string) => i.replace(';alg="ed25519"', ''), 'AUTH_SIGNATURE_MALFORMED'],
    ['no nonce', (i: string) => i.replace(/;nonce="[^"]*"/, ''), 'AUTH_SIGNATURE_MALFORMED'],
    [
      'a short nonce',
      (i: string) => i.replace(/;nonce="[^"]*"/, ';nonce="x"'),
      'AUTH_SIGNATURE_MALFORMED',
    ],
    [
      'created as a string',
      (i: string) => i.replace(/created=(\d+)/, 'created="$1"'),
      'AUTH_SIGNATURE_MALFORMED',
    ],
    [
      'a component parameter',
      (i: string) => i.replace('"@path"', '"@path";bs'),
      'AUTH_COMPONENT_UNSUPPORTED',
    ],
    [
      'an unknown derived component',
      (i: string) => i.replace('"@path"', '"@status"'),
      'AUTH_COMPONENTS_INCOMPLETE',
    ],
    [
      'a repeated component',
      (i: string) => i.replace('"@query"', '"@path"'),
      'AUTH_COMPONENTS_INCOMPLETE',
    ],
    ['garbage', () => 'sig1=(', 'AUTH_SIGNATURE_MALFORMED'],
  ])('refuses a Signature-Input with %s', (_name, edit, code) => {
    const m = signed();
    const input = edit(String(m.headers['signature-input']));
    expect(verifyCode({ ...m, headers: { ...m.headers, 'signature-input': input } })).toBe(code);
  });

  it('refuses a Signature that is not a byte sequence under the same label', () => {
    const m = signed();
    const sig = String(m.headers.signature);
    expect(
      verifyCode({ ...m, headers: { ...m.headers, signature: sig.replace('sig1', 'sig2') } }),
    ).toBe('AUTH_SIGNATURE_MALFORMED');
    expect(verifyCode({ ...m, headers: { ...m.headers, signature: 'sig1="x"' } })).toBe(
      'AUTH_SIGNATURE_MALFORMED',
    );
  });
});
