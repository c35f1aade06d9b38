/**
 * Sealing the personal fields of a telemetry batch on the endpoint.
 *
 * Each batch has a fresh 32-byte data key. The key is sealed to the
 * supervisor's key-release X25519 key with HPKE (RFC 9180) in base mode,
 * single-shot (§6.1), suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 /
 * AES-256-GCM, info "glasshouse personal fields v1", aad = the batch id.
 * Each event's personal fields {device, host, user, path} are encrypted
 * with AES-256-GCM under the data key with a random 12-byte nonce and
 * aad = "<batchId>:<eventIndex>", so a ciphertext cannot be moved to
 * another event or batch unnoticed. The vendor only ever holds ciphertext;
 * only the key-release private key opens the data key.
 */
import { Aes256Gcm, CipherSuite, HkdfSha256 } from '@hpke/core';
import { DhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519';
import { x25519 } from '@noble/curves/ed25519.js';
import {
  canonicalJson,
  concatBytes,
  fromBase64,
  fromUtf8,
  randomBytes,
  sha256Hex,
  toBase64,
  toHex,
  utf8,
} from './bytes.js';
import {
  BATCH_SCHEMA,
  encodeBatch,
  MAX_PERSONAL_BYTES,
  type TelemetryBatch,
  type TelemetryEvent,
  type Verdict,
} from './batch.js';
import { exactObject, type Fail } from './check.js';
import { ResidencyError } from './errors.js';

/** RFC 9180 §5.1 `info`: binds the context to this use. */
export const HPKE_INFO = 'glasshouse personal fields v1';
const X25519_KEY_BYTES = 32;
const DATA_KEY_BYTES = 32;
const NONCE_BYTES = 12;
/** RFC 9180 §7.1: Nenc of DHKEM(X25519, HKDF-SHA256) is 32. */
const ENC_BYTES = 32;

/** The personal fields of one event: sealed on the endpoint, never in clear at the vendor. */
export interface PersonalFields {
  readonly device: string;
  readonly host: string;
  readonly user: string;
  readonly path: string;
}

export interface PlainEvent {
  readonly sha256: string;
  readonly rule: string | null;
  readonly verdict: Verdict;
  readonly timeBucket: string;
  readonly personal: PersonalFields;
}

export interface BatchInput {
  readonly customer: string;
  readonly region: string;
  readonly productVersion: string;
  readonly createdAt: string;
  readonly events: readonly PlainEvent[];
}

export interface KeyReleaseKeyPair {
  /** Raw X25519 public key, 32 bytes (RFC 7748 §5). */
  readonly publicKey: Uint8Array;
  /** Raw X25519 private key, 32 bytes. */
  readonly privateKey: Uint8Array;
}

let cachedSuite: CipherSuite | undefined;
function suite(): CipherSuite {
  cachedSuite ??= new CipherSuite({
    kem: new DhkemX25519HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: new Aes256Gcm(),
  });
  return cachedSuite;
}

function assertX25519(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== X25519_KEY_BYTES) {
    throw new ResidencyError('KEY_INVALID', `${what} is not a raw 32-byte X25519 key`);
  }
}

/** A fresh key-release key pair (the supervisor's; the private key never leaves its directory). */
export function generateKeyReleaseKeyPair(): Promise<KeyReleaseKeyPair> {
  const privateKey = x25519.utils.randomSecretKey();
  return Promise.resolve({ publicKey: x25519.getPublicKey(privateKey), privateKey });
}

/** The public key of a key-release private key (RFC 7748 §6.1). */
export function keyReleasePublicKey(privateKey: Uint8Array): Uint8Array {
  assertX25519(privateKey, 'the key-release private key');
  return x25519.getPublicKey(privateKey);
}

/** Key id of a key-release public key: first 16 hex of SHA-256 of its raw 32 bytes. */
export function keyReleaseKeyId(publicKey: Uint8Array): string {
  assertX25519(publicKey, 'the key-release public key');
  return sha256Hex(publicKey).slice(0, 16);
}

function personalAad(batchId: string, index: number): Uint8Array<ArrayBuffer> {
  return utf8(`${batchId}:${index}`);
}

function personalJson(p: PersonalFields): string {
  return canonicalJson({ device: p.device, host: p.host, user: p.user, path: p.path });
}

async function importDataKey(
  dataKey: Uint8Array,
  usage: 'encrypt' | 'decrypt',
): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey(
    'raw',
    new Uint8Array(dataKey),
    { name: 'AES-GCM' },
    false,
    [usage],
  );
}

/**
 * Seals a batch for `keyReleasePublicKey` (raw X25519): a random batch id
 * and data key, the data key sealed with HPKE, each event's personal fields
 * encrypted with it. Returns the batch and its bytes (what the agent sends).
 */
export async function sealBatch(
  input: BatchInput,
  keyReleasePublicKey: Uint8Array,
): Promise<{ batch: TelemetryBatch; bytes: Uint8Array }> {
  assertX25519(keyReleasePublicKey, 'the key-release public key');
  const batchId = toHex(randomBytes(16));
  const dataKey = randomBytes(DATA_KEY_BYTES);
  const hpke = suite();
  // RFC 9180 §6.1: SealBase(pkR, info, aad, pt) -> (enc, ct).
  const sealed = await hpke.seal(
    {
      recipientPublicKey: await hpke.kem.importKey(
        'raw',
        new Uint8Array(keyReleasePublicKey).buffer,
        true,
      ),
      info: utf8(HPKE_INFO),
    },
    dataKey,
    utf8(batchId),
  );
  const key = await importDataKey(dataKey, 'encrypt');
  // One call to the random source for every nonce of the batch.
  const nonces = randomBytes(NONCE_BYTES * input.events.length);
  const events = await Promise.all(
    input.events.map(async (event, index): Promise<TelemetryEvent> => {
      const plain = utf8(personalJson(event.personal));
      if (plain.length + NONCE_BYTES + 16 > MAX_PERSONAL_BYTES) {
        throw new ResidencyError('BATCH_INVALID', 'the personal fields of an event are too long', {
          evidence: { index, size: plain.length },
        });
      }
      const nonce = nonces.subarray(index * NONCE_BYTES, (index + 1) * NONCE_BYTES);
      const ciphertext = await globalThis.crypto.subtle.encrypt(
        { name: 'AES-GCM', iv: nonce, additionalData: personalAad(batchId, index) },
        key,
        plain,
      );
      return {
        sha256: event.sha256,
        rule: event.rule,
        verdict: event.verdict,
        timeBucket: event.timeBucket,
        personal: toBase64(concatBytes(nonce, new Uint8Array(ciphertext))),
      };
    }),
  );
  dataKey.fill(0);
  const batch: TelemetryBatch = {
    schema: BATCH_SCHEMA,
    batchId,
    customer: input.customer,
    region: input.region,
    productVersion: input.productVersion,
    createdAt: input.createdAt,
    sealedKey: toBase64(concatBytes(new Uint8Array(sealed.enc), new Uint8Array(sealed.ct))),
    keyRelease: keyReleaseKeyId(keyReleasePublicKey),
    events,
  };
  return { batch, bytes: encodeBatch(batch) };
}

/**
 * Opens a batch's data key with the key-release private key (raw X25519):
 * KEY_RELEASE_KEY_MISMATCH when the batch names another key-release key,
 * SEALED_KEY_OPEN_FAILED when HPKE open fails (RFC 9180 §6.1 OpenBase).
 */
export async function openBatchKey(
  batch: TelemetryBatch,
  keyReleasePrivateKey: Uint8Array,
): Promise<Uint8Array> {
  const publicKey = keyReleasePublicKey(keyReleasePrivateKey);
  const keyId = keyReleaseKeyId(publicKey);
  if (keyId !== batch.keyRelease) {
    throw new ResidencyError(
      'KEY_RELEASE_KEY_MISMATCH',
      'the batch is sealed to another key-release key',
      {
        evidence: { batch: batch.keyRelease, key: keyId },
      },
    );
  }
  const sealed = fromBase64(batch.sealedKey);
  if (sealed?.length !== ENC_BYTES + DATA_KEY_BYTES + 16) {
    throw new ResidencyError('BATCH_INVALID', 'sealedKey is not enc ‖ ciphertext of a 32-byte key');
  }
  const hpke = suite();
  let opened: ArrayBuffer;
  try {
    const recipientKey = {
      privateKey: await hpke.kem.importKey(
        'raw',
        new Uint8Array(keyReleasePrivateKey).buffer,
        false,
      ),
      publicKey: await hpke.kem.importKey('raw', new Uint8Array(publicKey).buffer, true),
    };
    // RFC 9180 §6.1: OpenBase(enc, skR, info, aad, ct); enc first (Nenc = 32).
    opened = await hpke.open(
      { recipientKey, enc: sealed.slice(0, ENC_BYTES), info: utf8(HPKE_INFO) },
      sealed.slice(ENC_BYTES),
      utf8(batch.batchId),
    );
  } catch (cause) {
    throw new ResidencyError(
      'SEALED_KEY_OPEN_FAILED',
      'the sealed data key does not open with this key',
      {
        cause,
        evidence: { batchId: batch.batchId, keyRelease: batch.keyRelease },
      },
    );
  }
  if (opened.byteLength !== DATA_KEY_BYTES) {
    throw new ResidencyError('SEALED_KEY_OPEN_FAILED', 'the sealed data key is not 32 bytes');
  }
  return new Uint8Array(opened);
}

const personalInvalid: Fail = (what) => {
  throw new ResidencyError('PERSONAL_OPEN_FAILED', `personal fields: ${what}`);
};

/**
 * Decrypts the personal fields of event `index` with the batch's data key
 * (from openBatchKey): PERSONAL_OPEN_FAILED when the index is out of range,
 * the tag fails (wrong key, moved or altered ciphertext) or the plaintext
 * is not {device, host, user, path}.
 */
export async function openPersonal(
  batch: TelemetryBatch,
  index: number,
  dataKey: Uint8Array,
): Promise<PersonalFields> {
  return openWithKey(batch, index, await decryptionKey(dataKey));
}

/**
 * Decrypts the personal fields of every event, in order (the data key is
 * imported once); the same refusals as openPersonal.
 */
export async function openAllPersonal(
  batch: TelemetryBatch,
  dataKey: Uint8Array,
): Promise<PersonalFields[]> {
  const key = await decryptionKey(dataKey);
  return Promise.all(batch.events.map((_, index) => openWithKey(batch, index, key)));
}

async function decryptionKey(dataKey: Uint8Array): Promise<CryptoKey> {
  if (dataKey.length !== DATA_KEY_BYTES) {
    throw new ResidencyError('KEY_INVALID', 'a data key is 32 bytes');
  }
  return importDataKey(dataKey, 'decrypt');
}

async function openWithKey(
  batch: TelemetryBatch,
  index: number,
  key: CryptoKey,
): Promise<PersonalFields> {
  const event = Number.isSafeInteger(index) ? batch.events[index] : undefined;
  if (event === undefined) {
    throw new ResidencyError('PERSONAL_OPEN_FAILED', 'no event at this index', {
      evidence: { index, events: batch.events.length },
    });
  }
  const sealed = fromBase64(event.personal);
  if (sealed === undefined || sealed.length < NONCE_BYTES + 16) {
    return personalInvalid('not a nonce and an AES-GCM ciphertext');
  }
  let plain: ArrayBuffer;
  try {
    plain = await globalThis.crypto.subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: sealed.slice(0, NONCE_BYTES),
        additionalData: personalAad(batch.batchId, index),
      },
      key,
      sealed.slice(NONCE_BYTES),
    );
  } catch (cause) {
    throw new ResidencyError(
      'PERSONAL_OPEN_FAILED',
      'the personal fields do not open with this data key',
      {
        cause,
        evidence: { batchId: batch.batchId, index },
      },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(new Uint8Array(plain))) as unknown;
  } catch (cause) {
    throw new ResidencyError('PERSONAL_OPEN_FAILED', 'personal fields: not UTF-8 JSON', { cause });
  }
  const v = exactObject(
    value,
    'the personal fields',
    ['device', 'host', 'user', 'path'],
    [],
    personalInvalid,
  );
  for (const field of ['device', 'host', 'user', 'path'] as const) {
    if (typeof v[field] !== 'string') personalInvalid(`${field} is not a string`);
  }
  return {
    device: v.device as string,
    host: v.host as string,
    user: v.user as string,
    path: v.path as string,
  };
}
