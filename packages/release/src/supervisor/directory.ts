/**
 * The supervisor's directory: its key, its configuration (verifier id,
 * approval policy, pinned builders) and the records of what it signed.
 *
 *     <dir>/supervisor.key     the supervisor's Ed25519 key, PKCS#8 PEM, mode 0600
 *     <dir>/supervisor.json    { schema, verifierId, policy, builders }
 *     <dir>/records/<release>/ everything it signed about a release, kept
 *                              even when the upload fails
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  generateSigningKey,
  publicKeyFromPem,
  publicKeyToPem,
  signingKeyFromPem,
  signingKeyToPem,
  type PublicKey,
  type SigningKey,
  sha256Hex,
} from '@glasshouse/attest';
import { writeFileDurably, writeNewFileDurably } from '@glasshouse/durable';
import {
  isIdUri,
  isReleaseId,
  publicKeyInfo,
  type PublicKeyInfo,
} from '@glasshouse/release-format';
import { ReleaseError } from '../errors.js';
import { checkReviewer, DEFAULT_VERIFIER_ID, type ApprovalPolicy } from './supervision.js';

export const SUPERVISOR_KEY_FILE = 'supervisor.key';
export const SUPERVISOR_CONFIG_FILE = 'supervisor.json';
const CONFIG_SCHEMA = 'glasshouse.supervisor/v1';
const MAX_CONFIG_BYTES = 1024 * 1024;
const MAX_BUILDERS = 32;

/** A vendor builder whose provenance the supervisor accepts. */
export interface PinnedBuilder {
  readonly builderId: string;
  readonly publicKeyPem: string;
}

export interface SupervisorConfig {
  readonly verifierId: string;
  readonly policy: ApprovalPolicy;
  readonly builders: readonly PinnedBuilder[];
}

/** What anyone needs to check the supervisor's signatures. */
export interface SupervisorIdentity extends PublicKeyInfo {
  readonly verifierId: string;
}

export interface InitSupervisorOptions {
  readonly dir: string;
  /** Only on first init; default DEFAULT_VERIFIER_ID. */
  readonly verifierId?: string | undefined;
  /** Replaces the policy when given; the first init defaults to review required by anyone. */
  readonly policy?: ApprovalPolicy | undefined;
  /** Pins (or re-pins) a builder: its id and public key PEM. */
  readonly builder?: PinnedBuilder | undefined;
}

/**
 * Creates the supervisor key (mode 0600) and configuration in `dir`, or
 * updates an existing configuration: a given policy replaces the old one, a
 * given builder is pinned (replacing a pin with the same builder id).
 */
export async function initSupervisorDir(
  options: InitSupervisorOptions,
): Promise<{ identity: SupervisorIdentity; config: SupervisorConfig }> {
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  let key: SigningKey;
  let config: SupervisorConfig;
  const existing = await readSupervisorIfPresent(options.dir);
  if (existing === undefined) {
    key = generateSigningKey();
    config = {
      verifierId: checkUri(options.verifierId ?? DEFAULT_VERIFIER_ID, 'verifier id'),
      policy: { requireReview: true, reviewers: [] },
      builders: [],
    };
    await writeNewFile(join(options.dir, SUPERVISOR_KEY_FILE), signingKeyToPem(key), 0o600);
  } else {
    key = existing.key;
    config = existing.config;
    if (options.verifierId !== undefined && options.verifierId !== config.verifierId) {
      throw new ReleaseError(
        'SUPERVISOR_BAD_CONFIG',
        `${options.dir} already belongs to verifier ${config.verifierId}`,
      );
    }
  }
  if (options.policy !== undefined) config = { ...config, policy: checkPolicy(options.policy) };
  if (options.builder !== undefined) {
    const pin = checkBuilder(options.builder);
    config = {
      ...config,
      builders: [...config.builders.filter((b) => b.builderId !== pin.builderId), pin],
    };
  }
  await writeConfig(options.dir, config);
  return { identity: identityOf(key, config.verifierId), config };
}

export function identityOf(key: SigningKey, verifierId: string): SupervisorIdentity {
  return { verifierId, ...publicKeyInfo(key.verifier) };
}

function checkUri(value: string, what: string): string {
  if (!isIdUri(value)) {
    throw new ReleaseError('SUPERVISOR_BAD_CONFIG', `the ${what} must be a URI`, {
      evidence: { value: value.slice(0, 200) },
    });
  }
  return value;
}

function checkPolicy(value: unknown): ApprovalPolicy {
  const p = value as { requireReview?: unknown; reviewers?: unknown } | null;
  if (
    typeof p !== 'object' ||
    p === null ||
    typeof p.requireReview !== 'boolean' ||
    !Array.isArray(p.reviewers) ||
    p.reviewers.length > 1000
  ) {
    throw new ReleaseError('SUPERVISOR_BAD_CONFIG', 'policy must be {requireReview, reviewers}');
  }
  const reviewers = (p.reviewers as unknown[]).map((r) => {
    if (typeof r !== 'string')
      throw new ReleaseError('SUPERVISOR_BAD_CONFIG', 'a reviewer is not a string');
    try {
      return checkReviewer(r);
    } catch (cause) {
      throw new ReleaseError('SUPERVISOR_BAD_CONFIG', `bad reviewer name ${JSON.stringify(r)}`, {
        cause,
      });
    }
  });
  return { requireReview: p.requireReview, reviewers: [...new Set(reviewers)].sort() };
}

function checkBuilder(value: unknown): PinnedBuilder {
  const b = value as { builderId?: unknown; publicKeyPem?: unknown } | null;
  if (typeof b?.builderId !== 'string' || typeof b.publicKeyPem !== 'string') {
    throw new ReleaseError(
      'SUPERVISOR_BAD_CONFIG',
      'a builder pin needs builderId and publicKeyPem',
    );
  }
  let key: PublicKey;
  try {
    key = publicKeyFromPem(b.publicKeyPem);
  } catch (cause) {
    throw new ReleaseError('SUPERVISOR_BAD_CONFIG', "the builder's key is not an Ed25519 PEM", {
      cause,
    });
  }
  return { builderId: checkUri(b.builderId, 'builder id'), publicKeyPem: publicKeyToPem(key) };
}

export async function readSupervisorIfPresent(
  dir: string,
): Promise<{ key: SigningKey; config: SupervisorConfig } | undefined> {
  let pem: string;
  try {
    pem = await readFile(join(dir, SUPERVISOR_KEY_FILE), 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ReleaseError('SUPERVISOR_IO', `cannot read ${SUPERVISOR_KEY_FILE}`, { cause });
  }
  let raw: unknown;
  try {
    const text = await readFile(join(dir, SUPERVISOR_CONFIG_FILE));
    if (text.length > MAX_CONFIG_BYTES) throw new Error('too large');
    raw = JSON.parse(text.toString('utf8'));
  } catch (cause) {
    throw new ReleaseError('SUPERVISOR_BAD_CONFIG', `cannot read ${SUPERVISOR_CONFIG_FILE}`, {
      cause,
    });
  }
  const c = raw as { schema?: unknown; verifierId?: unknown; policy?: unknown; builders?: unknown };
  if (
    c.schema !== CONFIG_SCHEMA ||
    typeof c.verifierId !== 'string' ||
    !Array.isArray(c.builders) ||
    c.builders.length > MAX_BUILDERS
  ) {
    throw new ReleaseError(
      'SUPERVISOR_BAD_CONFIG',
      `${SUPERVISOR_CONFIG_FILE} is not a supervisor configuration`,
    );
  }
  let key: SigningKey;
  try {
    key = signingKeyFromPem(pem);
  } catch (cause) {
    throw new ReleaseError('SUPERVISOR_BAD_CONFIG', `${SUPERVISOR_KEY_FILE} is not a key`, {
      cause,
    });
  }
  return {
    key,
    config: {
      verifierId: checkUri(c.verifierId, 'verifier id'),
      policy: checkPolicy(c.policy),
      builders: (c.builders as unknown[]).map(checkBuilder),
    },
  };
}

async function writeConfig(dir: string, config: SupervisorConfig): Promise<void> {
  if (config.builders.length > MAX_BUILDERS) {
    throw new ReleaseError('SUPERVISOR_BAD_CONFIG', `at most ${MAX_BUILDERS} builders`);
  }
  const text = `${JSON.stringify({ schema: CONFIG_SCHEMA, ...config }, null, 2)}\n`;
  try {
    await writeFileDurably(join(dir, SUPERVISOR_CONFIG_FILE), Buffer.from(text), 0o644);
  } catch (cause) {
    throw new ReleaseError('SUPERVISOR_IO', `cannot write ${SUPERVISOR_CONFIG_FILE}`, { cause });
  }
}

async function writeNewFile(path: string, content: string, mode: number): Promise<void> {
  try {
    await writeNewFileDurably(path, content, mode);
  } catch (cause) {
    throw new ReleaseError('SUPERVISOR_IO', `cannot create ${path}`, { cause });
  }
}

/** Keeps a copy of what the supervisor signed under records/<release>/ (durable). */
export async function keepRecord(
  dir: string,
  releaseId: string,
  kind: string,
  bytes: Uint8Array,
): Promise<void> {
  const recordDir = join(dir, 'records', releaseId);
  const path = join(recordDir, `${kind}.${sha256Hex(bytes).slice(0, 16)}.json`);
  try {
    await mkdir(recordDir, { recursive: true, mode: 0o700 });
    await writeFileDurably(path, bytes, 0o644);
  } catch (cause) {
    throw new ReleaseError('SUPERVISOR_IO', `cannot write ${path}`, { cause });
  }
}

/** One file the supervisor kept about a release: what it signed, as uploaded. */
export interface SupervisorRecord {
  readonly kind: string;
  readonly bytes: Uint8Array;
}

/**
 * What the supervisor in `dir` signed about a release (its `records/`
 * copies), oldest name first; empty when it signed nothing. Readers verify
 * the signatures themselves: these are files, not trusted state.
 */
export async function readSupervisorRecords(
  dir: string,
  releaseId: string,
): Promise<SupervisorRecord[]> {
  if (!isReleaseId(releaseId)) return [];
  const recordDir = join(dir, 'records', releaseId);
  let names: string[];
  try {
    names = await readdir(recordDir);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ReleaseError('SUPERVISOR_IO', `cannot read ${recordDir}`, { cause });
  }
  const out: SupervisorRecord[] = [];
  for (const name of names.sort()) {
    const match = /^([a-z-]+)\.[0-9a-f]{16}\.json$/.exec(name);
    if (match?.[1] === undefined) continue;
    out.push({ kind: match[1], bytes: await readFile(join(recordDir, name)) });
  }
  return out;
}
