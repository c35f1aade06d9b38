/**
 * The parties of the data path as the CLI holds them: Ed25519 signing keys
 * in PKCS#8 PEM files (vendor and supervisor residency keys, customer keys),
 * the supervisor's key-release X25519 key pair, and the signatures each
 * party adds to a DSSE envelope (policy versions, enrollments).
 */
import { sign, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rawPublicKey } from '@glasshouse/httpsig';
import { readBoundedBody } from '@glasshouse/http';
import {
  customerPseudonym,
  ENROLLMENT_SCHEMA,
  encodeEnrollment,
  enrollmentEnvelope,
  enrollmentSigningMessage,
  fromBase64,
  generateKeyReleaseKeyPair,
  keyId,
  keyReleaseKeyId,
  toBase64,
  type DetachedSignature,
} from '@glasshouse/residency';
import { CodedError } from '@glasshouse/errors';
import { ensureCallerKey, readCallerKey } from '../callers.js';
import { UsageError, writeSecretFile } from '../io.js';

/** The key-release files in the supervisor's key-release directory. */
export const KEY_RELEASE_PRIVATE = 'key-release.key';
export const KEY_RELEASE_PUBLIC = 'key-release.pub';

/** A party's Ed25519 residency key (created, PKCS#8 PEM mode 0600, when `create`). */
export async function partyKey(path: string, create = false): Promise<KeyObject> {
  return create ? ensureCallerKey(path) : readCallerKey(path);
}

/** Base64 of the raw 32-byte public key. */
export function publicKeyBase64(key: KeyObject): string {
  return toBase64(rawPublicKey(key));
}

/** The DSSE signature of `message` (a PAE) by `key`, keyid = hex SHA-256 of the raw public key. */
export function detachedSignature(key: KeyObject, message: Uint8Array): DetachedSignature {
  return { keyid: keyId(rawPublicKey(key)), sig: new Uint8Array(sign(null, message, key)) };
}

/**
 * The supervisor's key-release key pair in `dir` (created when missing):
 * the private key base64 in a 0600 file, the public key beside it.
 */
export async function ensureKeyReleaseKey(
  dir: string,
): Promise<{ publicKey: Uint8Array; keyId: string; created: boolean }> {
  const priv = join(dir, KEY_RELEASE_PRIVATE);
  const pub = join(dir, KEY_RELEASE_PUBLIC);
  let created = false;
  if (!existsSync(priv)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pair = await generateKeyReleaseKeyPair();
    await writeSecretFile(priv, `${toBase64(pair.privateKey)}\n`);
    await writeSecretFile(pub, `${toBase64(pair.publicKey)}\n`);
    created = true;
  }
  const publicKey = await readKeyReleasePublicKey(pub);
  return { publicKey, keyId: keyReleaseKeyId(publicKey), created };
}

/** A key-release public key file (base64 of 32 raw X25519 bytes, RFC 7748 §5). */
export async function readKeyReleasePublicKey(path: string): Promise<Uint8Array> {
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (cause) {
    throw new UsageError(`cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  const raw = text.length <= 64 ? fromBase64(text) : undefined;
  if (raw?.length !== 32) throw new UsageError(`${path} is not a base64 X25519 public key`);
  return raw;
}

/** A customer's enrollment for `region`, signed by the customer only (the router adds the vendor's). */
export function customerEnrollment(
  customerKey: KeyObject,
  region: string,
  sequence: number,
  now: Date,
): { envelope: string; customer: string } {
  const pub = rawPublicKey(customerKey);
  const customer = customerPseudonym(pub);
  const payload = encodeEnrollment({
    schema: ENROLLMENT_SCHEMA,
    customer,
    customerKey: toBase64(pub),
    region,
    enrolledAt: now.toISOString(),
    sequence,
  });
  return {
    envelope: enrollmentEnvelope(payload, [
      detachedSignature(customerKey, enrollmentSigningMessage(payload)),
    ]),
    customer,
  };
}

/** POST /v1/enrollments: the router co-signs, logs and answers once witnessed. */
export async function postEnrollment(
  routerUrl: string,
  envelope: string,
): Promise<{ index: string; receipt: string }> {
  const url = new URL('v1/enrollments', routerUrl.endsWith('/') ? routerUrl : `${routerUrl}/`).href;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: envelope,
      signal: AbortSignal.timeout(60_000),
      redirect: 'error',
    });
  } catch (cause) {
    throw new CodedError('RESIDENCY_ROUTER_UNREACHABLE', `cannot reach ${url}`, { cause });
  }
  const text = new TextDecoder().decode(await readBoundedBody(res, 256 * 1024));
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // The status decides below; a non-JSON answer has no code to show.
    body = {};
  }
  if (!res.ok) {
    const code = typeof body.code === 'string' ? body.code : `HTTP_${res.status}`;
    throw new CodedError(
      'RESIDENCY_ROUTER_REFUSED',
      `the router refused: ${code} ${typeof body.message === 'string' ? body.message : ''}`,
      {
        evidence: { status: res.status, code },
      },
    );
  }
  const index = body.index;
  if (
    (typeof index !== 'number' && typeof index !== 'string') ||
    typeof body.receipt !== 'string'
  ) {
    throw new CodedError(
      'RESIDENCY_ROUTER_REFUSED',
      'the router answered without index and receipt',
    );
  }
  return { index: String(index), receipt: body.receipt };
}
