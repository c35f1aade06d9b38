/**
 * The supervisor: its own keys and working directory, reaching the vendor
 * only over HTTP (the assembly line's API) and git (the source).
 *
 *     <dir>/supervisor.key     the supervisor's Ed25519 key, PKCS#8 PEM, mode 0600
 *     <dir>/supervisor.json    { schema, verifierId, policy, builders }
 *     <dir>/records/<release>/ everything it signed about a release, kept
 *                              even when the upload fails
 *
 * `review` signs a reviewer's note about a release. `rebuild` checks the
 * vendor's provenance and link against the pinned builder key, checks the
 * approval policy, clones the source at the same commit, runs the same
 * recipe in its own sandbox and compares every output. On a match it signs
 * its own link for the `build` step, a SLSA VSA and an approval and uploads
 * them; on a mismatch it uploads a signed report naming every differing file
 * and throws SUPERVISOR_REBUILD_MISMATCH.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  envelopeFromJson,
  generateSigningKey,
  metablockSignedBy,
  parseLinkMetablock,
  provenanceOf,
  publicKeyFromPem,
  publicKeyToPem,
  serializeEnvelope,
  serializeMetablock,
  signingKeyFromPem,
  signingKeyToPem,
  verifyProvenance,
  verifyStatementEnvelope,
  SLSA_PROVENANCE_V1,
  type Envelope,
  type LinkMetadata,
  type Metablock,
  type PublicKey,
  type ResourceDescriptor,
  type SigningKey,
  sha256Hex,
} from '@glasshouse/attest';
import { CodedError } from '@glasshouse/errors';
import { writeFileDurably, writeNewFileDurably } from '@glasshouse/durable';
import {
  isIdUri,
  isReleaseId,
  publicKeyInfo,
  type AttestationRef,
  type PublicKeyInfo,
  type ReleaseRecord,
} from '@glasshouse/release-format';
import type { AssemblyClient } from './assembly-client.js';
import { ReleaseError } from './errors.js';
import { buildStepLink, signBuildStepLink } from './provenance.js';
import {
  compareArtifacts,
  differingFiles,
  runDiffoscope,
  type ArtifactDifference,
  type DiffoscopeOptions,
} from './rebuild-diff.js';
import { buildRecipeAtCommit } from './recipe-build.js';
import type { DebianYaraMode } from './rules.js';
import { detectSandbox, type SandboxInfo } from './sandbox.js';
import {
  approvalStatement,
  checkReviewer,
  mismatchStatement,
  rebuildVsaStatement,
  reviewStatement,
  signSupervisorStatement,
  verifySupervisorStatement,
  DEFAULT_VERIFIER_ID,
  REVIEW_PREDICATE_TYPE,
  type ApprovalPolicy,
  type ReviewPredicate,
} from './supervision.js';

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

export interface OpenSupervisorOptions {
  readonly dir: string;
  /** Default: `detectSandbox()` once at open. */
  readonly sandbox?: SandboxInfo;
  readonly debianYara?: DebianYaraMode;
  readonly commandTimeoutMs?: number;
  readonly gitTimeoutMs?: number;
  readonly scratchDir?: string;
  /** `false` never runs diffoscope; default: run it when installed. */
  readonly diffoscope?: DiffoscopeOptions | false;
  readonly now?: () => Date;
}

export async function openSupervisor(options: OpenSupervisorOptions): Promise<Supervisor> {
  const found = await readSupervisorIfPresent(options.dir);
  if (found === undefined) {
    throw new ReleaseError(
      'SUPERVISOR_NOT_INITIALIZED',
      `${options.dir} holds no supervisor; run "glasshouse supervisor init" first`,
    );
  }
  const sandbox = options.sandbox ?? (await detectSandbox());
  return new Supervisor(found.key, found.config, sandbox, options);
}

/** The signed review, as uploaded. */
export interface ReviewResult {
  readonly record: ReleaseRecord;
  readonly envelope: Envelope;
  readonly sha256: string;
}

/** What a matching rebuild signed and uploaded, by SHA-256 of the uploaded bytes. */
export interface RebuildApproval {
  readonly record: ReleaseRecord;
  readonly link: { readonly sha256: string; readonly fileName: string };
  readonly vsa: { readonly sha256: string };
  readonly approval: { readonly sha256: string };
}

export class Supervisor {
  readonly identity: SupervisorIdentity;
  readonly config: SupervisorConfig;
  readonly sandbox: SandboxInfo;
  readonly #key: SigningKey;
  readonly #options: OpenSupervisorOptions;
  readonly #now: () => Date;

  constructor(
    key: SigningKey,
    config: SupervisorConfig,
    sandbox: SandboxInfo,
    options: OpenSupervisorOptions,
  ) {
    this.#key = key;
    this.config = config;
    this.sandbox = sandbox;
    this.identity = identityOf(key, config.verifierId);
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Signs a review of a release by `reviewer` and uploads it. Refuses
   * reviewers the policy does not allow (SUPERVISOR_REVIEWER_NOT_ALLOWED).
   */
  async review(
    client: AssemblyClient,
    releaseId: string,
    reviewer: string,
    note: string,
  ): Promise<ReviewResult> {
    checkReviewer(reviewer);
    this.#checkReviewerAllowed(reviewer);
    const release = await client.getRelease(releaseId);
    const statement = reviewStatement({ release, reviewer, note, reviewedAt: this.#now() });
    const envelope = signSupervisorStatement(statement, this.#key);
    const bytes = Buffer.from(serializeEnvelope(envelope));
    await this.#keep(release.id, 'review', bytes);
    const record = await client.addAttestation(release.id, { kind: 'review', envelope });
    return { record, envelope, sha256: sha256Hex(bytes) };
  }

  /**
   * Rebuilds a release and approves it when every output is identical; see
   * the module comment. Progress lines go to `onProgress`.
   */
  async rebuild(
    client: AssemblyClient,
    releaseId: string,
    onProgress: (message: string) => void = () => undefined,
  ): Promise<RebuildApproval> {
    const progress = onProgress;
    const release = await client.getRelease(releaseId);
    progress(`release ${release.id}: ${release.name} ${release.version} (${release.status})`);
    if (release.status !== 'built') {
      throw new ReleaseError(
        'SUPERVISOR_ALREADY_DECIDED',
        `release ${release.id} is already ${release.status}`,
      );
    }

    // 1. The vendor's claims, checked with the pinned builder key only.
    const builder = this.#pinnedBuilder(release);
    const provenance = await this.#vendorAttestation(client, release, 'provenance');
    this.#checkProvenance(provenance.bytes, builder, release);
    const builderLink = await this.#vendorAttestation(client, release, 'link');
    const vendorLink = this.#checkBuilderLink(builderLink.bytes, builder.key, release);
    progress(`vendor provenance and link verify with builder key ${builder.key.keyid}`);

    // 2. The approval policy, before spending a build on it.
    const reviews = await this.#acceptedReviews(client, release);
    if (this.config.policy.requireReview && reviews.length === 0) {
      throw new ReleaseError(
        'SUPERVISOR_REVIEW_REQUIRED',
        `release ${release.id} has no review by ${describeReviewers(this.config.policy)}; run "glasshouse supervisor review" first`,
      );
    }

    // 3. The vendor's bytes, checked against the record's digests.
    const vendorArtifacts = [];
    for (const a of release.artifacts) {
      const bytes = await client.artifact(release.id, a.name);
      if (sha256Hex(bytes) !== a.sha256) {
        throw new ReleaseError(
          'SUPERVISOR_PROVENANCE_INVALID',
          `the assembly line served artifact ${a.name} with another digest than its record`,
        );
      }
      vendorArtifacts.push({ name: a.name, bytes });
    }

    // 4. The same recipe at the same commit, in the supervisor's own sandbox.
    progress(`rebuilding ${release.source} at ${release.commit}`);
    const rebuilt = await buildRecipeAtCommit({
      source: release.source,
      commit: release.commit,
      sandbox: this.sandbox,
      onProgress: progress,
      debianYara: this.#options.debianYara,
      commandTimeoutMs: this.#options.commandTimeoutMs,
      gitTimeoutMs: this.#options.gitTimeoutMs,
      scratchDir: this.#options.scratchDir,
    });
    if (rebuilt.recipeSha256 !== release.recipe.sha256) {
      throw new ReleaseError(
        'SUPERVISOR_PROVENANCE_INVALID',
        `the recipe at ${release.commit} is not the one the vendor recorded`,
        { evidence: { recorded: release.recipe.sha256, found: rebuilt.recipeSha256 } },
      );
    }

    // 5. Compare every output, and the link's materials (the source read).
    const differences = compareArtifacts(vendorArtifacts, rebuilt.artifacts);
    const materialDifferences = differingMaterials(vendorLink.materials, rebuilt.materials);
    if (differences.length > 0 || materialDifferences.length > 0) {
      const report = await this.#reportMismatch(
        client,
        release,
        differences,
        materialDifferences,
        vendorArtifacts,
        rebuilt.artifacts,
        progress,
      );
      const files = [
        ...differingFiles(differences),
        ...materialDifferences.map((m) => `source:${m}`),
      ];
      throw new ReleaseError(
        'SUPERVISOR_REBUILD_MISMATCH',
        `the rebuild differs from the vendor's build: ${files.join(', ')}; report ${report} uploaded`,
        { evidence: { differingFiles: files, differences, report } },
      );
    }
    progress(
      `rebuild matches: ${release.artifacts.map((a) => `${a.name} ${a.sha256}`).join(', ')}`,
    );

    // 6. Sign and upload: link, VSA, approval (the assembly line accepts the
    //    approval only once the other two are there).
    const link = signBuildStepLink(
      buildStepLink(rebuilt.recipe, rebuilt.materials, release.artifacts),
      this.#key,
    );
    const linkBytes = Buffer.from(serializeMetablock(link.metablock));
    await this.#keep(release.id, 'link', linkBytes);
    await client.addAttestation(release.id, { kind: 'link', metablock: link.metablock });
    const linkSha256 = sha256Hex(linkBytes);

    const inputs = [
      descriptor(client, release.id, 'provenance', provenance.ref),
      descriptor(client, release.id, 'builder-link', builderLink.ref),
      ...reviews.map((r) => descriptor(client, release.id, 'review', r.ref)),
    ];
    const now = this.#now();
    const vsaEnvelope = signSupervisorStatement(
      rebuildVsaStatement({
        release,
        verifierId: this.config.verifierId,
        timeVerified: now,
        policy: this.config.policy,
        inputAttestations: inputs,
      }),
      this.#key,
    );
    const vsaBytes = Buffer.from(serializeEnvelope(vsaEnvelope));
    await this.#keep(release.id, 'vsa', vsaBytes);
    await client.addAttestation(release.id, { kind: 'vsa', envelope: vsaEnvelope });
    const vsaSha256 = sha256Hex(vsaBytes);

    const approvalEnvelope = signSupervisorStatement(
      approvalStatement({
        release,
        verifierId: this.config.verifierId,
        approvedAt: now,
        policy: this.config.policy,
        evidence: [
          ...inputs,
          { name: 'rebuilder-link', digest: { sha256: linkSha256 } },
          { name: 'vsa', digest: { sha256: vsaSha256 } },
        ],
      }),
      this.#key,
    );
    const approvalBytes = Buffer.from(serializeEnvelope(approvalEnvelope));
    await this.#keep(release.id, 'approval', approvalBytes);
    const record = await client.addAttestation(release.id, {
      kind: 'approval',
      envelope: approvalEnvelope,
    });
    progress(`release ${release.id}: approved (${record.status})`);
    return {
      record,
      link: { sha256: linkSha256, fileName: link.fileName },
      vsa: { sha256: vsaSha256 },
      approval: { sha256: sha256Hex(approvalBytes) },
    };
  }

  #checkReviewerAllowed(reviewer: string): void {
    const { reviewers } = this.config.policy;
    if (reviewers.length > 0 && !reviewers.includes(reviewer)) {
      throw new ReleaseError(
        'SUPERVISOR_REVIEWER_NOT_ALLOWED',
        `${reviewer} is not an allowed reviewer (${reviewers.join(', ')})`,
      );
    }
  }

  #pinnedBuilder(release: ReleaseRecord): { builderId: string; key: PublicKey } {
    const pin = this.config.builders.find((b) => b.builderId === release.builderId);
    if (pin === undefined) {
      throw new ReleaseError(
        'SUPERVISOR_BUILDER_NOT_PINNED',
        `no key is pinned for builder ${release.builderId}; run "glasshouse supervisor init --builder-key FILE --builder-id ${release.builderId}"`,
      );
    }
    return { builderId: pin.builderId, key: publicKeyFromPem(pin.publicKeyPem) };
  }

  async #vendorAttestation(
    client: AssemblyClient,
    release: ReleaseRecord,
    kind: 'provenance' | 'link',
  ): Promise<{ ref: AttestationRef; bytes: Uint8Array }> {
    const ref = release.attestations.find((a) => a.kind === kind && a.by === 'builder');
    if (ref === undefined) {
      throw new ReleaseError(
        'SUPERVISOR_PROVENANCE_INVALID',
        `release ${release.id} lists no ${kind} by the builder`,
      );
    }
    const bytes = await client.attestation(release.id, ref.sha256);
    if (sha256Hex(bytes) !== ref.sha256) {
      throw new ReleaseError(
        'SUPERVISOR_PROVENANCE_INVALID',
        `the assembly line served the ${kind} with another digest than its record`,
      );
    }
    return { ref, bytes };
  }

  /** SLSA verifying-artifacts: signer-builder pair, subjects, and the source it claims. */
  #checkProvenance(
    bytes: Uint8Array,
    builder: { builderId: string; key: PublicKey },
    release: ReleaseRecord,
  ): void {
    const invalid = (message: string, cause?: unknown): never => {
      throw new ReleaseError(
        'SUPERVISOR_PROVENANCE_INVALID',
        message,
        cause === undefined ? {} : { cause },
      );
    };
    let provenance;
    try {
      const envelope = envelopeFromJson(JSON.parse(Buffer.from(bytes).toString('utf8')));
      const { statement } = verifyStatementEnvelope(envelope, {
        keys: [builder.key],
        predicateType: SLSA_PROVENANCE_V1,
      });
      const want = release.artifacts.map((a) => `${a.name} ${a.sha256}`).sort();
      const got = statement.subject.map((s) => `${s.name ?? ''} ${s.digest.sha256 ?? ''}`).sort();
      if (want.join('\n') !== got.join('\n')) {
        invalid("the provenance's subjects are not the release's artifacts");
      }
      provenance = provenanceOf(statement);
      verifyProvenance(provenance, { builderId: builder.builderId });
    } catch (cause) {
      if (cause instanceof ReleaseError) throw cause;
      return invalid(`the vendor's provenance does not verify with the pinned builder key`, cause);
    }
    const source = provenance.buildDefinition.externalParameters.source as
      { uri?: unknown; digest?: { gitCommit?: unknown } } | undefined;
    if (source?.uri !== release.source || source.digest?.gitCommit !== release.commit) {
      invalid('the provenance names another source or commit than the release record');
    }
  }

  #checkBuilderLink(bytes: Uint8Array, key: PublicKey, release: ReleaseRecord): LinkMetadata {
    let link: Metablock<LinkMetadata>;
    try {
      link = parseLinkMetablock(bytes);
    } catch (cause) {
      throw new ReleaseError('SUPERVISOR_PROVENANCE_INVALID', "the builder's link is malformed", {
        cause,
      });
    }
    if (!metablockSignedBy(link, key)) {
      throw new ReleaseError(
        'SUPERVISOR_PROVENANCE_INVALID',
        "the builder's link is not signed by the pinned builder key",
      );
    }
    const products = Object.entries(link.signed.products)
      .map(([name, digest]) => `${name} ${digest.sha256 ?? ''}`)
      .sort();
    const artifacts = release.artifacts.map((a) => `${a.name} ${a.sha256}`).sort();
    if (products.join('\n') !== artifacts.join('\n')) {
      throw new ReleaseError(
        'SUPERVISOR_PROVENANCE_INVALID',
        "the builder's link names other products than the release's artifacts",
      );
    }
    return link.signed;
  }

  /** Reviews on the release signed by this supervisor's key, by allowed reviewers. */
  async #acceptedReviews(
    client: AssemblyClient,
    release: ReleaseRecord,
  ): Promise<{ ref: AttestationRef; review: ReviewPredicate }[]> {
    const out: { ref: AttestationRef; review: ReviewPredicate }[] = [];
    for (const ref of release.attestations) {
      if (ref.kind !== 'review' || !ref.keyids.includes(this.#key.keyid)) continue;
      const bytes = await client.attestation(release.id, ref.sha256);
      let review: ReviewPredicate;
      try {
        const statement = verifySupervisorStatement(
          envelopeFromJson(JSON.parse(Buffer.from(bytes).toString('utf8'))),
          { key: this.#key.verifier, predicateType: REVIEW_PREDICATE_TYPE, release },
        );
        review = statement.predicate as ReviewPredicate;
      } catch (cause) {
        // A review that does not verify is not ours: it does not count.
        if (cause instanceof CodedError) continue;
        throw cause;
      }
      const { reviewers } = this.config.policy;
      if (reviewers.length === 0 || reviewers.includes(review.reviewer)) out.push({ ref, review });
    }
    return out;
  }

  async #reportMismatch(
    client: AssemblyClient,
    release: ReleaseRecord,
    differences: readonly ArtifactDifference[],
    materialDifferences: readonly string[],
    vendor: readonly { name: string; bytes: Uint8Array }[],
    rebuilt: readonly { name: string; bytes: Uint8Array }[],
    progress: (message: string) => void,
  ): Promise<string> {
    const files = differingFiles(differences);
    progress(`rebuild MISMATCH: ${[...files, ...materialDifferences].join(', ')}`);
    const diffoscope = await this.#diffoscope(differences, vendor, rebuilt, progress);
    const envelope = signSupervisorStatement(
      mismatchStatement({
        release,
        verifierId: this.config.verifierId,
        checkedAt: this.#now(),
        differingFiles: [...files, ...materialDifferences.map((m) => `source:${m}`)],
        differences,
        ...(diffoscope === undefined ? {} : { diffoscope }),
      }),
      this.#key,
    );
    const bytes = Buffer.from(serializeEnvelope(envelope));
    await this.#keep(release.id, 'mismatch-report', bytes);
    await client.addAttestation(release.id, { kind: 'mismatch-report', envelope });
    return sha256Hex(bytes);
  }

  async #diffoscope(
    differences: readonly ArtifactDifference[],
    vendor: readonly { name: string; bytes: Uint8Array }[],
    rebuilt: readonly { name: string; bytes: Uint8Array }[],
    progress: (message: string) => void,
  ): Promise<Record<string, { output: string; truncated: boolean }> | undefined> {
    if (this.#options.diffoscope === false) return undefined;
    const out: Record<string, { output: string; truncated: boolean }> = {};
    const scratch = await mkdtemp(join(this.#options.scratchDir ?? tmpdir(), 'glasshouse-diff-'));
    try {
      for (const d of differences) {
        const a = vendor.find((v) => v.name === d.artifact);
        const b = rebuilt.find((r) => r.name === d.artifact);
        if (a === undefined || b === undefined) continue;
        // Same base name on both sides, so diffoscope's report reads naturally.
        const base = d.artifact.replaceAll('/', '_');
        await mkdir(join(scratch, 'vendor'), { recursive: true });
        await mkdir(join(scratch, 'rebuild'), { recursive: true });
        await writeFile(join(scratch, 'vendor', base), a.bytes);
        await writeFile(join(scratch, 'rebuild', base), b.bytes);
        const result = await runDiffoscope(
          join(scratch, 'vendor', base),
          join(scratch, 'rebuild', base),
          this.#options.diffoscope ?? {},
        );
        if (result.status === 'not-installed') {
          progress('diffoscope is not installed: the report lists differing files without it');
          return undefined;
        }
        if (result.status === 'failed') {
          progress(`diffoscope failed on ${d.artifact}: ${result.reason}`);
          continue;
        }
        out[d.artifact] = {
          output: result.output.replaceAll(scratch, ''),
          truncated: result.truncated,
        };
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    return out;
  }

  /** Keeps a copy of what was signed under records/<release>/ (durable). */
  async #keep(releaseId: string, kind: string, bytes: Uint8Array): Promise<void> {
    const dir = join(this.#options.dir, 'records', releaseId);
    const path = join(dir, `${kind}.${sha256Hex(bytes).slice(0, 16)}.json`);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeFileDurably(path, bytes, 0o644);
    } catch (cause) {
      throw new ReleaseError('SUPERVISOR_IO', `cannot write ${path}`, { cause });
    }
  }
}

/** Source files whose digests differ between the vendor's link and the rebuild. */
function differingMaterials(
  vendor: Readonly<Record<string, { sha256?: string }>>,
  rebuilt: Readonly<Record<string, string>>,
): string[] {
  const names = new Set([...Object.keys(vendor), ...Object.keys(rebuilt)]);
  return [...names].filter((n) => vendor[n]?.sha256 !== rebuilt[n]).sort();
}

function descriptor(
  client: AssemblyClient,
  releaseId: string,
  name: string,
  ref: AttestationRef,
): ResourceDescriptor & { digest: Record<string, string> } {
  return {
    name,
    uri: `${client.baseUrl}/releases/${releaseId}/attestations/${ref.sha256}`,
    digest: { sha256: ref.sha256 },
  };
}

function describeReviewers(policy: ApprovalPolicy): string {
  return policy.reviewers.length === 0 ? 'any reviewer' : policy.reviewers.join(' or ');
}

function identityOf(key: SigningKey, verifierId: string): SupervisorIdentity {
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

async function readSupervisorIfPresent(
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
