/**
 * My data's key reading: the pseudonym the page derives from a key file is
 * the one `glasshouse access mine --customer-key` derives (Node's own key
 * parsing), for a private and a public key; anything else is refused with
 * PORTAL_KEY_INVALID. The page's reading runs in Node here with the same code.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { customerPseudonym } from '@glasshouse/residency';
import { customerOfKey, MAX_KEY_CHARS } from '../src/verify/mine.js';

describe("My data's customer key", () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
  const expected = customerPseudonym(raw);
  const pkcs8 = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const spki = publicKey.export({ format: 'pem', type: 'spki' }).toString();

  it('names the customer as access mine does, from a private or a public key file', () => {
    expect(customerOfKey(pkcs8)).toEqual({ customer: expected, kind: 'PKCS#8 private key' });
    expect(customerOfKey(`a comment before the block\n${spki}`)).toEqual({
      customer: expected,
      kind: 'SPKI public key',
    });
  });

  it('refuses what is not an Ed25519 PEM key, with its code', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ format: 'pem', type: 'pkcs8' })
      .toString();
    // The last four base64 characters of the key dropped, whatever they are.
    const end = pkcs8.indexOf('\n-----END');
    const cut = pkcs8.slice(0, end - 4) + pkcs8.slice(end);
    expect(cut).not.toBe(pkcs8);
    for (const text of ['', 'c-0123', rsa, cut, 'x'.repeat(MAX_KEY_CHARS + 1)]) {
      expect(() => customerOfKey(text)).toThrow(
        expect.objectContaining({ code: 'PORTAL_KEY_INVALID' }),
      );
    }
  });
});
