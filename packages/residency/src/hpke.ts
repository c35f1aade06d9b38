/**
 * HPKE (RFC 9180) base mode, single-shot (§6.1), over the crypto interface
 * (@glasshouse/crypto: node:crypto on a server, @noble in a browser), for
 * DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 with AES-128-GCM or AES-256-GCM.
 * Only what sealing a batch's data key needs: one message per context
 * (sequence number 0, so the nonce is the base nonce), no PSK, no exporter.
 */
import {
  aesGcmOpen,
  aesGcmSeal,
  hkdfSha256Expand,
  hkdfSha256Extract,
  randomBytes,
  x25519,
  x25519PublicKey,
} from '@glasshouse/crypto';
import { concatBytes, utf8 } from './bytes.js';

/** RFC 9180 §7.3 AEAD ids this module implements, with their key length Nk. */
export type HpkeAead = 'AES-128-GCM' | 'AES-256-GCM';
const AEAD_IDS: Readonly<Record<HpkeAead, { id: number; nk: number }>> = {
  'AES-128-GCM': { id: 0x0001, nk: 16 },
  'AES-256-GCM': { id: 0x0002, nk: 32 },
};
/** RFC 9180 §7.1 DHKEM(X25519, HKDF-SHA256) and §7.2 HKDF-SHA256. */
const KEM_ID = 0x0020;
const KDF_ID = 0x0001;
/** Nsecret, Nenc of the KEM; Nn of both AEADs. */
const N_SECRET = 32;
export const HPKE_ENC_BYTES = 32;
const N_NONCE = 12;
const MODE_BASE = 0x00;

/** An HPKE failure (a small-order key, a tag that does not verify): callers map it to their coded error. */
export class HpkeError extends Error {}

function i2osp2(n: number): Uint8Array {
  return Uint8Array.of((n >> 8) & 0xff, n & 0xff);
}

const KEM_SUITE = concatBytes(utf8('KEM'), i2osp2(KEM_ID));
function hpkeSuite(aead: HpkeAead): Uint8Array {
  return concatBytes(utf8('HPKE'), i2osp2(KEM_ID), i2osp2(KDF_ID), i2osp2(AEAD_IDS[aead].id));
}
const VERSION = utf8('HPKE-v1');

// §4: LabeledExtract / LabeledExpand.
function labeledExtract(
  suite: Uint8Array,
  salt: Uint8Array,
  label: string,
  ikm: Uint8Array,
): Uint8Array {
  return hkdfSha256Extract(salt, concatBytes(VERSION, suite, utf8(label), ikm));
}

function labeledExpand(
  suite: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
): Uint8Array {
  return hkdfSha256Expand(
    prk,
    concatBytes(i2osp2(length), VERSION, suite, utf8(label), info),
    length,
  );
}

const EMPTY = new Uint8Array(0);

// §4.1 ExtractAndExpand of the DHKEM.
function sharedSecret(dh: Uint8Array, enc: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  const eaePrk = labeledExtract(KEM_SUITE, EMPTY, 'eae_prk', dh);
  return labeledExpand(
    KEM_SUITE,
    eaePrk,
    'shared_secret',
    concatBytes(enc, recipientPublicKey),
    N_SECRET,
  );
}

// §5.1 KeySchedule, mode_base (psk and psk_id empty); only key and base_nonce are needed.
function keySchedule(
  aead: HpkeAead,
  shared: Uint8Array,
  info: Uint8Array,
): { key: Uint8Array; nonce: Uint8Array } {
  const suite = hpkeSuite(aead);
  const context = concatBytes(
    Uint8Array.of(MODE_BASE),
    labeledExtract(suite, EMPTY, 'psk_id_hash', EMPTY),
    labeledExtract(suite, EMPTY, 'info_hash', info),
  );
  const secret = labeledExtract(suite, shared, 'secret', EMPTY);
  return {
    key: labeledExpand(suite, secret, 'key', context, AEAD_IDS[aead].nk),
    nonce: labeledExpand(suite, secret, 'base_nonce', context, N_NONCE),
  };
}

export interface HpkeSealed {
  /** The encapsulated ephemeral public key (Nenc = 32 bytes). */
  readonly enc: Uint8Array;
  /** AEAD ciphertext ‖ tag. */
  readonly ct: Uint8Array;
}

/**
 * §6.1 SealBase(pkR, info, aad, pt). `ephemeralPrivateKey` is for the
 * published test vectors only; by default a fresh one is drawn.
 */
export function hpkeSealBase(opts: {
  aead: HpkeAead;
  recipientPublicKey: Uint8Array;
  info: Uint8Array;
  aad: Uint8Array;
  plaintext: Uint8Array;
  ephemeralPrivateKey?: Uint8Array;
}): HpkeSealed {
  const skE = opts.ephemeralPrivateKey ?? randomBytes(32);
  const enc = x25519PublicKey(skE);
  const dh = x25519(skE, opts.recipientPublicKey);
  if (dh === null) throw new HpkeError('the recipient key is of small order');
  const { key, nonce } = keySchedule(
    opts.aead,
    sharedSecret(dh, enc, opts.recipientPublicKey),
    opts.info,
  );
  return { enc, ct: aesGcmSeal(key, nonce, opts.plaintext, opts.aad) };
}

/**
 * §6.1 OpenBase(enc, skR, info, aad, ct). `recipientPublicKey` is skR's
 * (callers that open many keep it). HpkeError when `enc` is not 32
 * bytes or of small order, or the AEAD tag does not verify.
 */
export function hpkeOpenBase(opts: {
  aead: HpkeAead;
  recipientPrivateKey: Uint8Array;
  recipientPublicKey: Uint8Array;
  enc: Uint8Array;
  info: Uint8Array;
  aad: Uint8Array;
  ct: Uint8Array;
}): Uint8Array {
  if (opts.enc.length !== HPKE_ENC_BYTES) throw new HpkeError('enc is not 32 bytes');
  const dh = x25519(opts.recipientPrivateKey, opts.enc);
  if (dh === null) throw new HpkeError('enc is of small order');
  const { key, nonce } = keySchedule(
    opts.aead,
    sharedSecret(dh, opts.enc, opts.recipientPublicKey),
    opts.info,
  );
  const pt = aesGcmOpen(key, nonce, opts.ct, opts.aad);
  key.fill(0);
  if (pt === null) throw new HpkeError('the ciphertext does not open');
  return pt;
}
