/**
 * The supervisor: its own keys and working directory (directory.ts),
 * reaching the vendor only over HTTP (the assembly line's API, AssemblyApi)
 * and git (the source).
 *
 * `review` signs a reviewer's note about a release. `rebuild` checks the
 * vendor's provenance and link against the pinned builder key, checks the
 * approval policy, clones the source at the same commit, runs the same
 * recipe in its own sandbox and compares every output. On a match it signs
 * its own link for the `build` step, a SLSA VSA and an approval and uploads
 * them; on a mismatch it uploads a signed report naming every differing file
 * and throws SUPERVISOR_REBUILD_MISMATCH.
 */
import { tmpdir } from 'node:os';
import {
  envelopeFromJson,
  metablockSignedBy,
  parseLinkMetablock,
  provenanceOf,
  serializeEnvelope,
  verifyProvenance,
  verifyStatementEnvelope,
  SLSA_PROVENANCE_V1,
  type Envelope,
  type LinkMetadata,
  type Metablock,
  type PublicKey,
  type SigningKey,
  publicKeyFromPem,
  sha256Hex,
} from '@glasshouse/attest';
import { CodedError } from '@glasshouse/errors';
import {
  REVIEW_PREDICATE_TYPE,
  verifySupervisorStatement,
  type AttestationRef,
  type ReleaseRecord,
} from '@glasshouse/release-format';
import { buildRecipeAtCommit } from '../build/recipe-build.js';
import type { DebianYaraMode } from '../build/rules.js';
import { detectSandbox, type SandboxInfo } from '../build/sandbox.js';
import { ReleaseError } from '../errors.js';
import { planApproval, type AttestationInput } from './approval-plan.js';
import type { AssemblyApi } from './assembly-api.js';
import {
  identityOf,
  keepRecord,
  readSupervisorIfPresent,
  type SupervisorConfig,
  type SupervisorIdentity,
} from './directory.js';
import {
  compareArtifacts,
  diffoscopeReports,
  differingFiles,
  type ArtifactDifference,
  type DiffoscopeOptions,
} from './rebuild-diff.js';
import {
  checkReviewer,
  mismatchStatement,
  reviewStatement,
  signSupervisorStatement,
  type ApprovalPolicy,
  type ReviewPredicate,
} from './supervision.js';

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
  /** Aborts the running rebuilds (see `cancelRebuilds`). */
  readonly #rebuilds = new Set<AbortController>();
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
    client: AssemblyApi,
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
    client: AssemblyApi,
    releaseId: string,
    onProgress: (message: string) => void = () => undefined,
  ): Promise<RebuildApproval> {
    const abort = new AbortController();
    this.#rebuilds.add(abort);
    try {
      return await this.#rebuild(client, releaseId, onProgress, abort.signal);
    } finally {
      this.#rebuilds.delete(abort);
    }
  }

  /**
   * Stops every running rebuild at once (for SIGTERM): the rules build
   * process and its engines, or a command recipe's sandboxed process group,
   * are killed, the checkout removed, and `rebuild` rejects with
   * `RULES_CANCELLED` (`SANDBOX_CANCELLED` for a command recipe) having
   * signed and uploaded nothing.
   */
  cancelRebuilds(): void {
    for (const abort of this.#rebuilds) abort.abort();
  }

  async #rebuild(
    client: AssemblyApi,
    releaseId: string,
    onProgress: (message: string) => void,
    signal: AbortSignal,
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
      signal,
    });
    if (signal.aborted) throw new ReleaseError('RULES_CANCELLED', 'the rebuild was cancelled');
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

    // 6. Sign link, VSA and approval, then keep and upload each in order.
    const plan = planApproval({
      release,
      recipe: rebuilt.recipe,
      materials: rebuilt.materials,
      verifierId: this.config.verifierId,
      policy: this.config.policy,
      inputAttestations: [
        descriptor(client, release.id, 'provenance', provenance.ref),
        descriptor(client, release.id, 'builder-link', builderLink.ref),
        ...reviews.map((r) => descriptor(client, release.id, 'review', r.ref)),
      ],
      now: this.#now(),
      key: this.#key,
    });
    let record = release;
    for (const document of plan.documents) {
      await this.#keep(release.id, document.kind, document.bytes);
      record = await client.addAttestation(release.id, document.upload);
    }
    const [link, vsa, approval] = plan.documents;
    progress(`release ${release.id}: approved (${record.status})`);
    return {
      record,
      link: { sha256: link.sha256, fileName: plan.linkFileName },
      vsa: { sha256: vsa.sha256 },
      approval: { sha256: approval.sha256 },
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
    client: AssemblyApi,
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
    client: AssemblyApi,
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
    client: AssemblyApi,
    release: ReleaseRecord,
    differences: readonly ArtifactDifference[],
    materialDifferences: readonly string[],
    vendor: readonly { name: string; bytes: Uint8Array }[],
    rebuilt: readonly { name: string; bytes: Uint8Array }[],
    progress: (message: string) => void,
  ): Promise<string> {
    const files = differingFiles(differences);
    progress(`rebuild MISMATCH: ${[...files, ...materialDifferences].join(', ')}`);
    const diffoscope =
      this.#options.diffoscope === false
        ? undefined
        : await diffoscopeReports(differences, vendor, rebuilt, {
            diffoscope: this.#options.diffoscope ?? {},
            scratchDir: this.#options.scratchDir ?? tmpdir(),
            progress,
          });
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

  /** Keeps a copy of what was signed under records/<release>/ (durable). */
  async #keep(releaseId: string, kind: string, bytes: Uint8Array): Promise<void> {
    await keepRecord(this.#options.dir, releaseId, kind, bytes);
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
  client: AssemblyApi,
  releaseId: string,
  name: string,
  ref: AttestationRef,
): AttestationInput {
  return {
    name,
    uri: `${client.baseUrl}/releases/${releaseId}/attestations/${ref.sha256}`,
    digest: { sha256: ref.sha256 },
  };
}

function describeReviewers(policy: ApprovalPolicy): string {
  return policy.reviewers.length === 0 ? 'any reviewer' : policy.reviewers.join(' or ');
}
