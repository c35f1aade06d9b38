/**
 * Who may write to which service: the caller keys each role signs its
 * writes with (RFC 9421, @glasshouse/httpsig) and the allow-lists the
 * services are started with.
 *
 * A caller key file is either a PKCS#8 PEM Ed25519 key (release engineers,
 * the supervisor, the repository's vendor keys) or a log's signed-note key
 * `PRIVATE+KEY+name+hexid+base64(0x01‖seed)`.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import {
  AllowList,
  RequestSigner,
  ed25519PrivateKey,
  parseCallersFile,
  signedFetch,
  type CallerSpec,
} from '@glasshouse/httpsig';
import { parseSignerKey } from '@glasshouse/tlog';
import { UsageError, readKeyIfPresent, readSmallFile, writeSecretFile } from './io.js';

/** The write routes of each service, as the servers register them. */
export const ROUTES = {
  logAdd: ['POST /add', 'POST /add-batch'],
  assemblyBuild: ['POST /releases'],
  assemblyUpload: ['POST /releases/:id/attestations'],
  repoPublish: ['POST /publish'],
} as const;

/** Caller files are small JSON documents. */
const MAX_CALLERS_BYTES = 256 * 1024;
const MAX_CALLER_KEY_BYTES = 8 * 1024;

/** The private key in a caller key file (PKCS#8 PEM or a signed-note signer key). */
export async function readCallerKey(path: string): Promise<KeyObject> {
  return callerKeyFromText(await readSmallFile(path, MAX_CALLER_KEY_BYTES), path);
}

export function callerKeyFromText(text: string, path: string): KeyObject {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('PRIVATE+KEY+')) {
      parseSignerKey(trimmed); // checks name, key id and type before we take the seed
      const material = trimmed.slice('PRIVATE+KEY+'.length).split('+').slice(2).join('+');
      return ed25519PrivateKey(new Uint8Array(Buffer.from(material, 'base64').subarray(1)));
    }
    const key = createPrivateKey(trimmed);
    if (key.asymmetricKeyType !== 'ed25519') throw new UsageError('not an Ed25519 key');
    return key;
  } catch (cause) {
    throw new UsageError(`${path} is not an Ed25519 private key (PKCS#8 PEM or PRIVATE+KEY+…)`, {
      cause,
    });
  }
}

/** The caller key in `path`, created (PKCS#8 PEM, mode 0600) when missing. */
export async function ensureCallerKey(path: string): Promise<KeyObject> {
  if ((await readKeyIfPresent(path)) === undefined) await writeSecretFile(path, newCallerKeyPem());
  return readCallerKey(path);
}

/** A new Ed25519 caller key, PKCS#8 PEM. */
export function newCallerKeyPem(): string {
  return generateKeyPairSync('ed25519')
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

/** The public key in a caller key file: a private key (either form) or an SPKI PEM public key. */
export async function readCallerPublicKey(path: string): Promise<KeyObject> {
  const text = (await readSmallFile(path, MAX_CALLER_KEY_BYTES)).trim();
  if (text.startsWith('-----BEGIN PUBLIC KEY-----')) {
    try {
      const key = createPublicKey(text);
      if (key.asymmetricKeyType === 'ed25519') return key;
    } catch (cause) {
      throw new UsageError(`${path} is not an Ed25519 public key`, { cause });
    }
    throw new UsageError(`${path} is not an Ed25519 public key`);
  }
  return createPublicKey(callerKeyFromText(text, path));
}

/** A fetch that signs every write with `key`. */
export function signingFetch(key: KeyObject, fetchImpl: typeof fetch = fetch): typeof fetch {
  return signedFetch(new RequestSigner({ privateKey: key }), fetchImpl);
}

/** `{fetch}` for a client, signing with the key in `path` when one is given. */
export async function clientOptions(path: string | undefined): Promise<{ fetch?: typeof fetch }> {
  return path === undefined ? {} : { fetch: signingFetch(await readCallerKey(path)) };
}

/** A caller allowed `allow`, named `name`, identified by its private or public key. */
export function caller(name: string, key: KeyObject, allow: readonly string[]): CallerSpec {
  return { name, publicKey: key.type === 'private' ? createPublicKey(key) : key, allow };
}

/** The callers listed in `--callers` files (see @glasshouse/httpsig `parseCallersFile`). */
export async function readCallersFiles(paths: readonly string[]): Promise<CallerSpec[]> {
  const out: CallerSpec[] = [];
  for (const path of paths) {
    try {
      out.push(...parseCallersFile(await readSmallFile(path, MAX_CALLERS_BYTES)).callers());
    } catch (cause) {
      if (cause instanceof UsageError) throw cause;
      throw new UsageError(`${path}: ${(cause as Error).message}`, { cause });
    }
  }
  return out;
}

/** An allow-list from specs; a duplicate key is a usage error. */
export function allowListOf(specs: readonly CallerSpec[]): AllowList {
  try {
    return new AllowList(specs);
  } catch (cause) {
    throw new UsageError(`callers: ${(cause as Error).message}`, { cause });
  }
}

/** One line per accepted caller: `caller <keyid> <name>: <routes>`. */
export function formatCallers(service: string, list: AllowList): string {
  return list
    .list()
    .map((c) => `${service}: accepts ${c.name} (key ${c.keyid}): ${c.allow.join(', ')}\n`)
    .join('');
}

/** Commander collects a repeatable option into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
