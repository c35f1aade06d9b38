/**
 * The assembly line's directory: the builder key, the layout key and the
 * configuration (builder id, the pinned supervisor key).
 *
 *     <dir>/builder.key       the builder's Ed25519 key, PKCS#8 PEM, mode 0600
 *     <dir>/layout.key        the key that signs release layouts (endpoints pin it), mode 0600
 *     <dir>/assembly.json     { schema, builderId, supervisor? { publicKeyPem } }
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  generateSigningKey,
  publicKeyFromPem,
  publicKeyToPem,
  signingKeyFromPem,
  signingKeyToPem,
  type PublicKey,
  type SigningKey,
} from '@glasshouse/attest';
import { writeFileDurably, writeNewFileDurably } from '@glasshouse/durable';
import { isIdUri, publicKeyInfo, type PublicKeyInfo } from '@glasshouse/release-format';
import { DEFAULT_BUILDER_ID } from '../build/provenance.js';
import { ReleaseError } from '../errors.js';

export const BUILDER_KEY_FILE = 'builder.key';
export const LAYOUT_KEY_FILE = 'layout.key';
/** The file name in-toto-verify is given the layout under. */
export const LAYOUT_FILE_NAME = 'root.layout';
export const ASSEMBLY_CONFIG_FILE = 'assembly.json';
const CONFIG_SCHEMA = 'glasshouse.assembly/v1';

/** What anyone needs to check the builder's signatures. */
export interface BuilderIdentity extends PublicKeyInfo {
  readonly builderId: string;
}

export interface InitAssemblyOptions {
  readonly dir: string;
  /** Default DEFAULT_BUILDER_ID. */
  readonly builderId?: string | undefined;
  /**
   * The supervisor's public key (PEM): only what it signs is accepted as an
   * upload, and it is the second functionary of every release layout. Pins
   * (or re-pins) on an initialised directory too.
   */
  readonly supervisorKeyPem?: string | undefined;
}

/**
 * Creates the builder key (mode 0600) and the configuration in `dir`.
 * Running it again on an initialised directory returns the same identity
 * when the builder id agrees (or is not given), and ASSEMBLY_ALREADY_INITIALIZED
 * when another one is asked for.
 */
export async function initAssemblyDir(options: InitAssemblyOptions): Promise<BuilderIdentity> {
  if (options.builderId !== undefined) checkBuilderId(options.builderId);
  const supervisor =
    options.supervisorKeyPem === undefined
      ? undefined
      : checkSupervisorKey(options.supervisorKeyPem);
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  const existing = await readIdentityIfPresent(options.dir);
  if (existing !== undefined) {
    if (options.builderId !== undefined && options.builderId !== existing.identity.builderId) {
      throw new ReleaseError(
        'ASSEMBLY_ALREADY_INITIALIZED',
        `${options.dir} already belongs to builder ${existing.identity.builderId}`,
      );
    }
    await ensureLayoutKey(options.dir);
    if (supervisor !== undefined) {
      await writeConfig(options.dir, existing.identity.builderId, supervisor);
    }
    return existing.identity;
  }
  const builderId = options.builderId ?? DEFAULT_BUILDER_ID;
  const key = generateSigningKey();
  await writeNewFile(join(options.dir, BUILDER_KEY_FILE), signingKeyToPem(key), 0o600);
  await ensureLayoutKey(options.dir);
  await writeConfig(options.dir, builderId, supervisor);
  return identityOf(key, builderId);
}

export function checkSupervisorKey(pem: string): PublicKey {
  try {
    return publicKeyFromPem(pem);
  } catch (cause) {
    throw new ReleaseError(
      'ASSEMBLY_BAD_CONFIG',
      "the supervisor's key is not an Ed25519 public key PEM",
      {
        cause,
      },
    );
  }
}

async function writeConfig(
  dir: string,
  builderId: string,
  supervisor: PublicKey | undefined,
): Promise<void> {
  const config = {
    schema: CONFIG_SCHEMA,
    builderId,
    ...(supervisor === undefined
      ? {}
      : { supervisor: { publicKeyPem: publicKeyToPem(supervisor) } }),
  };
  try {
    await writeFileDurably(
      join(dir, ASSEMBLY_CONFIG_FILE),
      Buffer.from(`${JSON.stringify(config, null, 2)}\n`),
      0o644,
    );
  } catch (cause) {
    throw new ReleaseError('ASSEMBLY_IO', `cannot write ${ASSEMBLY_CONFIG_FILE}`, { cause });
  }
}

/** The layout key, created (mode 0600) when the directory has none yet. */
export async function ensureLayoutKey(dir: string): Promise<SigningKey> {
  const path = join(dir, LAYOUT_KEY_FILE);
  try {
    return signingKeyFromPem(await readFile(path, 'utf8'));
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ReleaseError('ASSEMBLY_BAD_CONFIG', `cannot read ${LAYOUT_KEY_FILE}`, { cause });
    }
  }
  const key = generateSigningKey();
  await writeNewFile(path, signingKeyToPem(key), 0o600);
  return key;
}

function checkBuilderId(builderId: string): void {
  if (!isIdUri(builderId)) {
    throw new ReleaseError('ASSEMBLY_BAD_CONFIG', 'the builder id must be a URI', {
      evidence: { builderId: builderId.slice(0, 200) },
    });
  }
}

export function identityOf(key: SigningKey, builderId: string): BuilderIdentity {
  return { builderId, ...publicKeyInfo(key.verifier) };
}

export async function readIdentityIfPresent(
  dir: string,
): Promise<
  { key: SigningKey; identity: BuilderIdentity; supervisor: PublicKey | undefined } | undefined
> {
  let pem: string;
  try {
    pem = await readFile(join(dir, BUILDER_KEY_FILE), 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ReleaseError('ASSEMBLY_IO', `cannot read ${BUILDER_KEY_FILE}`, { cause });
  }
  let config: unknown;
  try {
    config = JSON.parse(await readFile(join(dir, ASSEMBLY_CONFIG_FILE), 'utf8'));
  } catch (cause) {
    throw new ReleaseError('ASSEMBLY_BAD_CONFIG', `cannot read ${ASSEMBLY_CONFIG_FILE}`, { cause });
  }
  const builderId = (config as { builderId?: unknown } | null)?.builderId;
  if (
    (config as { schema?: unknown } | null)?.schema !== CONFIG_SCHEMA ||
    typeof builderId !== 'string'
  ) {
    throw new ReleaseError(
      'ASSEMBLY_BAD_CONFIG',
      `${ASSEMBLY_CONFIG_FILE} is not an assembly configuration`,
    );
  }
  checkBuilderId(builderId);
  const pinned = (config as { supervisor?: { publicKeyPem?: unknown } }).supervisor;
  let supervisor: PublicKey | undefined;
  if (pinned !== undefined) {
    if (typeof pinned.publicKeyPem !== 'string') {
      throw new ReleaseError('ASSEMBLY_BAD_CONFIG', `${ASSEMBLY_CONFIG_FILE}: bad supervisor key`);
    }
    supervisor = checkSupervisorKey(pinned.publicKeyPem);
  }
  const key = signingKeyFromPem(pem);
  return { key, identity: identityOf(key, builderId), supervisor };
}

async function writeNewFile(path: string, content: string, mode: number): Promise<void> {
  try {
    await writeNewFileDurably(path, content, mode);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new ReleaseError(
      code === 'EEXIST' ? 'ASSEMBLY_ALREADY_INITIALIZED' : 'ASSEMBLY_IO',
      `cannot create ${path}`,
      { cause },
    );
  }
}
