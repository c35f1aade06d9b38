/**
 * The vendor's assembly line: takes a release request (source repository
 * and commit), checks the commit out, builds its recipe (a rules bundle, or
 * the recipe's commands in the sandbox), signs a SLSA provenance and an
 * in-toto link with the builder key, and records the release with its
 * artifacts. The HTTP API in `assembly-server.ts` is a thin layer over this.
 *
 *     <dir>/…                 keys and configuration (see directory.ts)
 *     <dir>/assembly.sqlite   records (see assembly-store.ts)
 *     <dir>/blobs/sha256/…    artifacts and attestations
 */
import { randomBytes } from 'node:crypto';
import {
  parseLinkMetablock,
  serializeEnvelope,
  serializeMetablock,
  signMetadata,
  type PublicKey,
  type SigningKey,
} from '@glasshouse/attest';
import {
  DEFAULT_LAYOUT_VALIDITY_DAYS,
  isReleaseId,
  publicKeyInfo,
  releaseLayout,
  type ArtifactRef,
  type AttestationKind,
  type AttestationRef,
  type PublicKeyInfo,
  type ReleaseRecord,
} from '@glasshouse/release-format';
import { checkCommitSha, normalizeSourceUri, readSourceObject } from '../build/git.js';
import {
  buildStepLink,
  signBuildStepLink,
  signProvenance,
  type BuildFacts,
} from '../build/provenance.js';
import { RECIPE_FILE } from '../build/recipe.js';
import { buildRecipeAtCommit } from '../build/recipe-build.js';
import type { DebianYaraMode } from '../build/rules.js';
import { detectSandbox, type SandboxInfo } from '../build/sandbox.js';
import { ReleaseError } from '../errors.js';
import { AssemblyStore } from './assembly-store.js';
import {
  ensureLayoutKey,
  LAYOUT_FILE_NAME,
  readIdentityIfPresent,
  type BuilderIdentity,
} from './directory.js';
import { checkUpload, parseUploadedAttestation } from './uploads.js';

/** Progress lines one build may emit; the rest are dropped with a note. */
const MAX_PROGRESS_LINES = 10_000;
const MAX_PROGRESS_LINE = 2000;

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

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
  /** How long the layout signed at approval stays valid; default DEFAULT_LAYOUT_VALIDITY_DAYS. */
  readonly layoutValidityDays?: number;
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
  const layoutKey = await ensureLayoutKey(options.dir);
  const sandbox = options.sandbox ?? (await detectSandbox());
  const store = AssemblyStore.open(options.dir);
  return new AssemblyLine(
    store,
    { builder: found.key, layout: layoutKey, supervisor: found.supervisor },
    found.identity,
    sandbox,
    options,
  );
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

/** The keys an assembly line holds: its own two, and the supervisor's public key once pinned. */
export interface AssemblyKeys {
  readonly builder: SigningKey;
  readonly layout: SigningKey;
  readonly supervisor: PublicKey | undefined;
}

export class AssemblyLine {
  readonly identity: BuilderIdentity;
  /** The key endpoints pin to check release layouts. */
  readonly layoutKey: PublicKeyInfo;
  /** The pinned supervisor key, if any. */
  readonly supervisorKey: PublicKeyInfo | undefined;
  readonly sandbox: SandboxInfo;
  readonly #store: AssemblyStore;
  readonly #key: SigningKey;
  readonly #layoutKey: SigningKey;
  readonly #supervisor: PublicKey | undefined;
  readonly #options: OpenAssemblyOptions;
  readonly #now: () => Date;
  #building = false;
  #closed = false;
  /** Aborts the running build's engine process (see `cancelBuild`). */
  #abort: AbortController | undefined;
  /** Uploads run one at a time, so an approval sees the uploads before it. */
  #uploads: Promise<unknown> = Promise.resolve();
  /** The objects of the commits whose source was read lately (readSourceObject's cache). */
  readonly #sourceObjects = new Map<string, Map<string, string>>();

  constructor(
    store: AssemblyStore,
    keys: AssemblyKeys,
    identity: BuilderIdentity,
    sandbox: SandboxInfo,
    options: OpenAssemblyOptions,
  ) {
    this.#store = store;
    this.#key = keys.builder;
    this.#layoutKey = keys.layout;
    this.#supervisor = keys.supervisor;
    this.layoutKey = publicKeyInfo(keys.layout.verifier);
    this.supervisorKey = keys.supervisor === undefined ? undefined : publicKeyInfo(keys.supervisor);
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
    this.#abort = new AbortController();
    const { signal } = this.#abort;
    let lines = 0;
    const progress = (message: string): void => {
      lines += 1;
      if (lines < MAX_PROGRESS_LINES) onProgress(message.slice(0, MAX_PROGRESS_LINE));
      else if (lines === MAX_PROGRESS_LINES) onProgress('(further progress is not shown)');
    };
    try {
      return await this.#build(source, commit, progress, signal);
    } finally {
      this.#building = false;
      this.#abort = undefined;
    }
  }

  /**
   * Stops the running build, if any, at once: its rules build process and
   * engines, or a command recipe's sandboxed process group, are killed and
   * `build` rejects with `RULES_CANCELLED` (`SANDBOX_CANCELLED` for a
   * command recipe), recording nothing. For a prompt stop on SIGTERM.
   */
  cancelBuild(): void {
    this.#abort?.abort();
  }

  async #build(
    source: string,
    commit: string,
    progress: (message: string) => void,
    signal: AbortSignal,
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
      signal,
    });
    if (signal.aborted) throw new ReleaseError('RULES_CANCELLED', 'the build was cancelled');
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
    // Each step below is a few hundred milliseconds with ten thousand source
    // files: let the other services of this process answer in between.
    const provenanceBytes = Buffer.from(serializeEnvelope(signProvenance(facts, this.#key)));
    await yieldToEventLoop();
    const link = signBuildStepLink(buildStepLink(recipe, built.materials, artifacts), this.#key);
    await yieldToEventLoop();
    const linkBytes = Buffer.from(serializeMetablock(link.metablock));
    await yieldToEventLoop();
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
    const record = isReleaseId(id) ? this.#store.getRelease(id) : undefined;
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

  /**
   * One git object of the source a release was built from (its commit, or a
   * tree or blob of that commit), as `<type> <length>\0<content>` whose
   * SHA-1 is the object's id: a reader checks it against the provenance's
   * gitCommit. Only local (`file:`) sources (SOURCE_NOT_SERVED otherwise).
   */
  sourceObject(id: string, oid: string): Promise<Uint8Array> {
    const record = this.getRelease(id);
    return readSourceObject({
      source: record.source,
      commit: record.commit,
      oid,
      reachable: this.#sourceObjects,
      ...(this.#options.gitTimeoutMs === undefined
        ? {}
        : { timeoutMs: this.#options.gitTimeoutMs }),
    });
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
   * Stores an attestation the supervisor uploaded for a release and lists it
   * on the record. Only what verifies with the pinned supervisor key and is
   * about this release's artifacts is accepted (ASSEMBLY_NO_SUPERVISOR when
   * none is pinned, ASSEMBLY_BAD_ATTESTATION otherwise). An approval, once
   * the supervisor's link and VSA are listed, makes the release `approved`
   * and has the layout signed; a mismatch report makes a built release
   * `rejected`.
   */
  addAttestation(id: string, body: unknown): Promise<ReleaseRecord> {
    const run = this.#uploads.then(() => this.#addAttestation(id, body));
    this.#uploads = run.catch(() => undefined);
    return run;
  }

  async #addAttestation(id: string, body: unknown): Promise<ReleaseRecord> {
    const record = this.getRelease(id);
    const supervisor = this.#supervisor;
    if (supervisor === undefined) {
      throw new ReleaseError(
        'ASSEMBLY_NO_SUPERVISOR',
        'no supervisor key is pinned; run "glasshouse assembly init --supervisor-key FILE"',
      );
    }
    const parsed = parseUploadedAttestation(body);
    checkUpload(parsed, record, supervisor);
    const sha256 = await this.#store.putBlob(parsed.bytes);
    const ref: AttestationRef = {
      kind: parsed.kind,
      sha256,
      size: parsed.bytes.length,
      by: 'supervisor',
      keyids: parsed.keyids,
      ...(parsed.fileName === undefined ? {} : { fileName: parsed.fileName }),
      addedAt: this.#now().toISOString(),
    };
    switch (parsed.kind) {
      case 'approval':
        return this.#approve(record, ref, supervisor);
      case 'mismatch-report':
        return this.#store.addAttestations(
          id,
          [ref],
          record.status === 'built' ? 'rejected' : undefined,
        );
      case 'link':
      case 'vsa':
      case 'review':
        return this.#store.addAttestations(id, [ref]);
    }
  }

  /** in-toto-spec §4.3: the layout an endpoint verifies this release against. */
  async #approve(
    record: ReleaseRecord,
    approval: AttestationRef,
    supervisor: PublicKey,
  ): Promise<ReleaseRecord> {
    if (record.status === 'approved') return this.#store.addAttestations(record.id, [approval]);
    if (record.status === 'rejected') {
      throw new ReleaseError(
        'ASSEMBLY_RELEASE_REJECTED',
        `release ${record.id} was rejected by the supervisor's rebuild`,
      );
    }
    const bySupervisor = (kind: AttestationKind): boolean =>
      record.attestations.some(
        (a) => a.kind === kind && a.by === 'supervisor' && a.keyids.includes(supervisor.keyid),
      );
    if (!bySupervisor('link') || !bySupervisor('vsa')) {
      throw new ReleaseError(
        'ASSEMBLY_APPROVAL_INCOMPLETE',
        "an approval needs the supervisor's link and VSA uploaded first",
      );
    }
    const builderLinkRef = record.attestations.find((a) => a.kind === 'link' && a.by === 'builder');
    const builderLinkBytes =
      builderLinkRef === undefined ? undefined : await this.#store.getBlob(builderLinkRef.sha256);
    if (builderLinkBytes === undefined) {
      throw new ReleaseError('ASSEMBLY_IO', `release ${record.id} has lost its builder link`);
    }
    const now = this.#now();
    const days = this.#options.layoutValidityDays ?? DEFAULT_LAYOUT_VALIDITY_DAYS;
    const layout = signMetadata(
      releaseLayout({
        release: record,
        builderKey: this.#key.verifier,
        rebuilderKey: supervisor,
        expectedCommand: parseLinkMetablock(builderLinkBytes).signed.command,
        expires: new Date(now.getTime() + days * 24 * 60 * 60 * 1000),
      }),
      [this.#layoutKey],
    );
    const layoutBytes = Buffer.from(serializeMetablock(layout));
    const layoutRef: AttestationRef = {
      kind: 'layout',
      sha256: await this.#store.putBlob(layoutBytes),
      size: layoutBytes.length,
      by: 'builder',
      keyids: [this.#layoutKey.keyid],
      fileName: LAYOUT_FILE_NAME,
      addedAt: now.toISOString(),
    };
    return this.#store.addAttestations(record.id, [approval, layoutRef], 'approved');
  }

  /** The signed layout of an approved release; ASSEMBLY_NOT_APPROVED before approval. */
  async layout(id: string): Promise<{ ref: AttestationRef; bytes: Uint8Array }> {
    const record = this.getRelease(id);
    const ref = record.attestations.find((a) => a.kind === 'layout');
    if (record.status !== 'approved' || ref === undefined) {
      throw new ReleaseError(
        'ASSEMBLY_NOT_APPROVED',
        `release ${id} is ${record.status}: it has no layout`,
      );
    }
    return this.attestation(id, ref.sha256);
  }

  /** Refuses new builds, cancels a running one and closes the store; call after the server stopped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.cancelBuild();
    this.#store.close();
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

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
