/**
 * The vendor's assembly line: takes a release request (source repository
 * and commit), checks the commit out, builds its recipe (a rules bundle, or
 * the recipe's commands in the sandbox), signs a SLSA provenance and an
 * in-toto link with the builder key, and records the release with its
 * artifacts. The HTTP API in `assembly-server.ts` is a thin layer over this.
 *
 *     <dir>/builder.key       the builder's Ed25519 key, PKCS#8 PEM, mode 0600
 *     <dir>/assembly.json     { schema, builderId }
 *     <dir>/assembly.sqlite   records (see assembly-store.ts)
 *     <dir>/blobs/sha256/…    artifacts and attestations
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  envelopeFromJson,
  generateSigningKey,
  keyDictWithIdFor,
  parseLinkMetablock,
  publicKeyToPem,
  serializeEnvelope,
  serializeMetablock,
  signingKeyFromPem,
  signingKeyToPem,
  decodeBase64,
  parseStatement,
  IN_TOTO_PAYLOAD_TYPE,
  linkFileName,
  type KeyDictWithId,
  type SigningKey,
} from '@glasshouse/attest';
import { CodedError } from '@glasshouse/errors';
import {
  AssemblyStore,
  ATTESTATION_KINDS,
  type ArtifactRef,
  type AttestationKind,
  type AttestationRef,
  type ReleaseRecord,
} from './assembly-store.js';
import { ReleaseError } from './errors.js';
import { checkCommitSha, normalizeSourceUri } from './git.js';
import {
  buildStepLink,
  DEFAULT_BUILDER_ID,
  signBuildStepLink,
  signProvenance,
  type BuildFacts,
} from './provenance.js';
import { RECIPE_FILE } from './recipe.js';
import { buildRecipeAtCommit } from './recipe-build.js';
import type { DebianYaraMode } from './rules.js';
import { detectSandbox, type SandboxInfo } from './sandbox.js';

export const BUILDER_KEY_FILE = 'builder.key';
export const ASSEMBLY_CONFIG_FILE = 'assembly.json';
const CONFIG_SCHEMA = 'glasshouse.assembly/v1';

/** The largest attestation the API stores (envelope or metablock JSON). */
export const MAX_ATTESTATION_BYTES = 4 * 1024 * 1024;
/** Progress lines one build may emit; the rest are dropped with a note. */
const MAX_PROGRESS_LINES = 10_000;
const MAX_PROGRESS_LINE = 2000;

const RELEASE_ID = /^[0-9a-hjkmnp-tv-z]{26}$/;
const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/** What anyone needs to check the builder's signatures. */
export interface BuilderIdentity {
  readonly builderId: string;
  readonly keyid: string;
  readonly publicKeyPem: string;
  /** securesystemslib key dict (for legacy in-toto layouts). */
  readonly keyDict: KeyDictWithId;
}

export interface InitAssemblyOptions {
  readonly dir: string;
  /** Default DEFAULT_BUILDER_ID. */
  readonly builderId?: string | undefined;
}

/**
 * Creates the builder key (mode 0600) and the configuration in `dir`.
 * Running it again on an initialised directory returns the same identity
 * when the builder id agrees (or is not given), and ASSEMBLY_ALREADY_INITIALIZED
 * when another one is asked for.
 */
export async function initAssemblyDir(options: InitAssemblyOptions): Promise<BuilderIdentity> {
  if (options.builderId !== undefined) checkBuilderId(options.builderId);
  await mkdir(options.dir, { recursive: true, mode: 0o700 });
  const existing = await readIdentityIfPresent(options.dir);
  if (existing !== undefined) {
    if (options.builderId !== undefined && options.builderId !== existing.identity.builderId) {
      throw new ReleaseError(
        'ASSEMBLY_ALREADY_INITIALIZED',
        `${options.dir} already belongs to builder ${existing.identity.builderId}`,
      );
    }
    return existing.identity;
  }
  const builderId = options.builderId ?? DEFAULT_BUILDER_ID;
  const key = generateSigningKey();
  await writeNewFile(join(options.dir, BUILDER_KEY_FILE), signingKeyToPem(key), 0o600);
  await writeNewFile(
    join(options.dir, ASSEMBLY_CONFIG_FILE),
    `${JSON.stringify({ schema: CONFIG_SCHEMA, builderId }, null, 2)}\n`,
    0o644,
  );
  return identityOf(key, builderId);
}

export interface OpenAssemblyOptions {
  readonly dir: string;
  /** Default: `detectSandbox()` once at open. */
  readonly sandbox?: SandboxInfo;
  /** Debian yara cross-check of rules builds; default 'auto'. */
  readonly debianYara?: DebianYaraMode;
  /** Per command of a `command` build; default 10 minutes. */
  readonly commandTimeoutMs?: number;
  /** Per git process; default 120 s. */
  readonly gitTimeoutMs?: number;
  /** Scratch space for checkouts and build outputs; default the OS temp dir. */
  readonly scratchDir?: string;
  /** Default `() => new Date()`. */
  readonly now?: () => Date;
}

/** A request to build: a source repository and a full commit. */
export interface BuildRequestBody {
  readonly source: string;
  readonly commit: string;
}

/** Opens the assembly line in an initialised directory. */
export async function openAssemblyLine(options: OpenAssemblyOptions): Promise<AssemblyLine> {
  const found = await readIdentityIfPresent(options.dir);
  if (found === undefined) {
    throw new ReleaseError(
      'ASSEMBLY_NOT_INITIALIZED',
      `${options.dir} holds no assembly line; run "glasshouse assembly init" first`,
    );
  }
  const sandbox = options.sandbox ?? (await detectSandbox());
  const store = AssemblyStore.open(options.dir);
  return new AssemblyLine(store, found.key, found.identity, sandbox, options);
}

/** Checks a POST /releases body strictly; throws ASSEMBLY_BAD_REQUEST, GIT_BAD_COMMIT or GIT_BAD_SOURCE. */
export function parseBuildRequest(body: unknown): BuildRequestBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ReleaseError('ASSEMBLY_BAD_REQUEST', 'the body must be a JSON object');
  }
  for (const key of Object.keys(body)) {
    if (key !== 'source' && key !== 'commit') {
      throw new ReleaseError('ASSEMBLY_BAD_REQUEST', `unknown field ${JSON.stringify(key)}`);
    }
  }
  const { source, commit } = body as Record<string, unknown>;
  return { commit: checkCommitSha(commit), source: normalizeSourceUri(source) };
}

export class AssemblyLine {
  readonly identity: BuilderIdentity;
  readonly sandbox: SandboxInfo;
  readonly #store: AssemblyStore;
  readonly #key: SigningKey;
  readonly #options: OpenAssemblyOptions;
  readonly #now: () => Date;
  #building = false;
  #closed = false;

  constructor(
    store: AssemblyStore,
    key: SigningKey,
    identity: BuilderIdentity,
    sandbox: SandboxInfo,
    options: OpenAssemblyOptions,
  ) {
    this.#store = store;
    this.#key = key;
    this.identity = identity;
    this.sandbox = sandbox;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** Whether a build is running (the line builds one release at a time). */
  get busy(): boolean {
    return this.#building;
  }

  /**
   * Builds and records one release. ASSEMBLY_BUSY when a build is already
   * running; every failure of the build itself is a coded ReleaseError (or
   * AttestError) and records nothing.
   */
  async build(
    request: BuildRequestBody,
    onProgress: (message: string) => void = () => undefined,
  ): Promise<ReleaseRecord> {
    const { source, commit } = parseBuildRequest(request);
    if (this.#closed) throw new ReleaseError('ASSEMBLY_CLOSED', 'the assembly line is closed');
    if (this.#building) {
      throw new ReleaseError('ASSEMBLY_BUSY', 'another build is running; try again later');
    }
    this.#building = true;
    let lines = 0;
    const progress = (message: string): void => {
      lines += 1;
      if (lines < MAX_PROGRESS_LINES) onProgress(message.slice(0, MAX_PROGRESS_LINE));
      else if (lines === MAX_PROGRESS_LINES) onProgress('(further progress is not shown)');
    };
    try {
      return await this.#build(source, commit, progress);
    } finally {
      this.#building = false;
    }
  }

  async #build(
    source: string,
    commit: string,
    progress: (message: string) => void,
  ): Promise<ReleaseRecord> {
    const startedOn = this.#now();
    const id = newReleaseId(startedOn);
    progress(`release ${id}: building ${source} at ${commit}`);
    const built = await buildRecipeAtCommit({
      source,
      commit,
      sandbox: this.sandbox,
      onProgress: progress,
      debianYara: this.#options.debianYara,
      commandTimeoutMs: this.#options.commandTimeoutMs,
      gitTimeoutMs: this.#options.gitTimeoutMs,
      scratchDir: this.#options.scratchDir,
    });
    const { recipe } = built;
    const artifacts: ArtifactRef[] = [];
    for (const a of built.artifacts) {
      const sha256 = await this.#store.putBlob(a.bytes);
      artifacts.push({ name: a.name, sha256, size: a.bytes.length });
      progress(`artifact ${a.name}: sha256 ${sha256} (${a.bytes.length} bytes)`);
    }
    const finishedOn = this.#now();
    const facts: BuildFacts = {
      releaseId: id,
      builderId: this.identity.builderId,
      source: { uri: source, commit },
      recipe,
      recipeFile: { path: RECIPE_FILE, sha256: built.recipeSha256 },
      sourceDateEpoch: built.sourceDateEpoch,
      artifacts,
      isolated: built.isolated,
      sandbox: built.sandbox,
      engines: built.engines,
      nodeVersion: process.version,
      startedOn,
      finishedOn,
    };
    const provenanceBytes = Buffer.from(serializeEnvelope(signProvenance(facts, this.#key)));
    const link = signBuildStepLink(buildStepLink(recipe, built.materials, artifacts), this.#key);
    const linkBytes = Buffer.from(serializeMetablock(link.metablock));
    const addedAt = finishedOn.toISOString();
    const attestations: AttestationRef[] = [
      {
        kind: 'provenance',
        sha256: await this.#store.putBlob(provenanceBytes),
        size: provenanceBytes.length,
        by: 'builder',
        keyids: [this.#key.keyid],
        addedAt,
      },
      {
        kind: 'link',
        sha256: await this.#store.putBlob(linkBytes),
        size: linkBytes.length,
        by: 'builder',
        keyids: [this.#key.keyid],
        fileName: link.fileName,
        addedAt,
      },
    ];
    const record = this.#store.insertRelease(
      {
        id,
        name: recipe.name,
        version: recipe.version,
        kind: recipe.kind,
        source,
        commit,
        sourceDateEpoch: built.sourceDateEpoch,
        recipe: { path: RECIPE_FILE, sha256: built.recipeSha256 },
        builderId: this.identity.builderId,
        isolated: built.isolated,
        artifacts,
        startedOn: startedOn.toISOString(),
        finishedOn: finishedOn.toISOString(),
      },
      attestations,
    );
    progress(
      `release ${id}: recorded (provenance and ${link.fileName} signed by ${this.#key.keyid})`,
    );
    return record;
  }

  listReleases(): ReleaseRecord[] {
    return this.#store.listReleases();
  }

  /** The record; ASSEMBLY_NOT_FOUND when there is none (or the id is malformed). */
  getRelease(id: string): ReleaseRecord {
    const record = RELEASE_ID.test(id) ? this.#store.getRelease(id) : undefined;
    if (record === undefined) throw new ReleaseError('ASSEMBLY_NOT_FOUND', `no release ${id}`);
    return record;
  }

  /** The bytes of an artifact of a release. */
  async artifact(id: string, name: string): Promise<{ ref: ArtifactRef; bytes: Uint8Array }> {
    const record = this.getRelease(id);
    const ref = record.artifacts.find((a) => a.name === name);
    const bytes = ref === undefined ? undefined : await this.#store.getBlob(ref.sha256);
    if (ref === undefined || bytes === undefined) {
      throw new ReleaseError('ASSEMBLY_NOT_FOUND', `release ${id} has no artifact ${name}`);
    }
    return { ref, bytes };
  }

  /** The bytes of an attestation listed on a release. */
  async attestation(
    id: string,
    sha256: string,
  ): Promise<{ ref: AttestationRef; bytes: Uint8Array }> {
    const record = this.getRelease(id);
    const ref = record.attestations.find((a) => a.sha256 === sha256);
    const bytes = ref === undefined ? undefined : await this.#store.getBlob(ref.sha256);
    if (ref === undefined || bytes === undefined) {
      throw new ReleaseError('ASSEMBLY_NOT_FOUND', `release ${id} has no attestation ${sha256}`);
    }
    return { ref, bytes };
  }

  /**
   * Stores an attestation uploaded for a release (by the supervisor) and
   * lists it on the record. Parsed strictly, not verified: checking whose
   * signature it carries is the reader's job, with keys it pins.
   */
  async addAttestation(id: string, body: unknown): Promise<ReleaseRecord> {
    this.getRelease(id);
    const parsed = parseUploadedAttestation(body);
    const sha256 = await this.#store.putBlob(parsed.bytes);
    return this.#store.addAttestation(id, {
      kind: parsed.kind,
      sha256,
      size: parsed.bytes.length,
      by: 'supervisor',
      keyids: parsed.keyids,
      ...(parsed.fileName === undefined ? {} : { fileName: parsed.fileName }),
      addedAt: this.#now().toISOString(),
    });
  }

  /** Refuses new builds and closes the store; call after the server stopped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#store.close();
  }
}

interface ParsedAttestation {
  kind: Exclude<AttestationKind, 'provenance'>;
  bytes: Uint8Array;
  keyids: string[];
  fileName?: string;
}

/**
 * `{kind: 'link', metablock}` (a legacy in-toto link) or
 * `{kind: 'vsa'|'approval'|'review'|'mismatch-report', envelope}` (a DSSE
 * envelope carrying an in-toto Statement). Stored re-serialised, so the
 * stored bytes are exactly what was parsed.
 */
export function parseUploadedAttestation(body: unknown): ParsedAttestation {
  const bad = (message: string, cause?: unknown): never => {
    throw new ReleaseError(
      'ASSEMBLY_BAD_ATTESTATION',
      message,
      cause === undefined ? {} : { cause },
    );
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return bad('the body must be a JSON object');
  }
  const fields = Object.keys(body);
  const { kind } = body as Record<string, unknown>;
  const uploadable = ATTESTATION_KINDS.filter((k) => k !== 'provenance') as string[];
  if (typeof kind !== 'string' || !uploadable.includes(kind)) {
    return bad(`kind must be one of ${uploadable.join(', ')}`);
  }
  const payloadField = kind === 'link' ? 'metablock' : 'envelope';
  for (const f of fields) {
    if (f !== 'kind' && f !== payloadField)
      return bad(`unknown field ${JSON.stringify(f)} for kind ${kind}`);
  }
  const payload = (body as Record<string, unknown>)[payloadField];
  if (payload === undefined) return bad(`${payloadField} is required for kind ${kind}`);
  try {
    if (kind === 'link') {
      const text = JSON.stringify(payload);
      const metablock = parseLinkMetablock(text, { maxSize: MAX_ATTESTATION_BYTES });
      const serialized = Buffer.from(serializeMetablock(metablock));
      const keyids = metablock.signatures.map((s) => s.keyid);
      const first = keyids[0];
      return {
        kind,
        bytes: serialized,
        keyids,
        ...(first === undefined ? {} : { fileName: linkFileName(metablock.signed.name, first) }),
      };
    }
    const envelope = envelopeFromJson(payload);
    if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
      return bad(`the envelope's payloadType must be ${IN_TOTO_PAYLOAD_TYPE}`);
    }
    parseStatement(decodeBase64(envelope.payload, 'payload'));
    const serialized = Buffer.from(serializeEnvelope(envelope));
    if (serialized.length > MAX_ATTESTATION_BYTES) return bad('the envelope is too large');
    return {
      kind: kind as ParsedAttestation['kind'],
      bytes: serialized,
      keyids: envelope.signatures.flatMap((s) => (s.keyid === undefined ? [] : [s.keyid])),
    };
  } catch (cause) {
    if (cause instanceof ReleaseError) throw cause;
    const code = cause instanceof CodedError ? `${cause.code}: ` : '';
    return bad(`${code}${(cause as Error).message}`, cause);
  }
}

/** A sortable id: 10 Crockford base32 digits of milliseconds, then 16 random ones (lowercase). */
export function newReleaseId(now: Date): string {
  let time = BigInt(Math.max(0, now.getTime()));
  let head = '';
  for (let i = 0; i < 10; i++) {
    head = `${CROCKFORD.charAt(Number(time & 31n))}${head}`;
    time >>= 5n;
  }
  let tail = '';
  for (const byte of randomBytes(16)) tail += CROCKFORD.charAt(byte & 31);
  return head + tail;
}

export function isReleaseId(id: string): boolean {
  return RELEASE_ID.test(id);
}

function checkBuilderId(builderId: string): void {
  if (!/^[a-z][a-z0-9+.-]*:\S+$/.test(builderId) || builderId.length > 1024) {
    throw new ReleaseError('ASSEMBLY_BAD_CONFIG', 'the builder id must be a URI', {
      evidence: { builderId: builderId.slice(0, 200) },
    });
  }
}

function identityOf(key: SigningKey, builderId: string): BuilderIdentity {
  return {
    builderId,
    keyid: key.keyid,
    publicKeyPem: publicKeyToPem(key.verifier),
    keyDict: keyDictWithIdFor(key.verifier),
  };
}

async function readIdentityIfPresent(
  dir: string,
): Promise<{ key: SigningKey; identity: BuilderIdentity } | undefined> {
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
  const key = signingKeyFromPem(pem);
  return { key, identity: identityOf(key, builderId) };
}

async function writeNewFile(path: string, content: string, mode: number): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', mode);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw new ReleaseError(
      code === 'EEXIST' ? 'ASSEMBLY_ALREADY_INITIALIZED' : 'ASSEMBLY_IO',
      `cannot create ${path}`,
      { cause },
    );
  }
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
