/**
 * Releases, verified in the browser: the trust bundle (both root-key
 * signatures, the operator's pinned fingerprint), the TUF chain to the
 * releases role (the vendor's and the supervisor's release keys), and per
 * release its provenance (the builder's key), the supervisor's rebuild
 * verdict (VSA, the supervisor's key), and its release-log inclusion (the
 * receipt's checkpoint under the release log's witness policy, the entry
 * rebuilt from the TUF targets, and that checkpoint consistent with the
 * log's current one).
 */
import {
  parseEnvelope,
  parseLayoutMetablock,
  parseLinkMetablock,
  provenanceOf,
  publicKeyFromKeyDict,
  publicKeyFromPem,
  sha256Hex,
  verificationSummaryOf,
  verifyProvenance,
  verifyStatementEnvelope,
  verifyVerificationSummary,
} from '@glasshouse/attest';
import { CodedError } from '@glasshouse/errors';
import {
  BUILD_STEP_NAME,
  encodeReleaseLogEntry,
  releaseResourceUri,
  REVIEW_PREDICATE_TYPE,
  verifyReleaseLayout,
  verifySupervisorStatement,
  type ReleaseRecord,
  type TrustBundle,
} from '@glasshouse/release-format';
import { encodeBase64, openCheckpoint, parsePolicy, verifyTlogProof } from '@glasshouse/tlog';
import type { PortalConfig } from '../config.js';
import { skipped, step, type Check } from './check.js';
import { fetchJson, fetchText, type Fetcher } from './fetch.js';
import { checkConsistent } from './logs.js';
import { rulesOfBundle, type RuleText } from './rules.js';
import { compareWithMaterials, EAGER_FILES, SourceReader, type SourceTree } from './source.js';
import { openPinnedTrustBundle } from './trust.js';
import { fetchTarget, targetsOf, verifyTufChain, type TufChain, type TufTarget } from './tuf.js';

export interface ReleaseReport {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly record: ReleaseRecord | undefined;
  readonly vsa: { readonly result: string; readonly levels: readonly string[] } | undefined;
  readonly logIndex: string | undefined;
  readonly checks: readonly Check[];
  /** The supervisor's review records, each signature verified. */
  readonly reviews: readonly Review[];
  /** The source at the provenance's commit, every tree checked; with the link's materials. */
  readonly source: VerifiedSource | undefined;
  /** A rules release's rules by name, read from its TUF-verified bundle. */
  readonly rules: ReadonlyMap<string, RuleText> | undefined;
}

export interface Review {
  readonly reviewer: string;
  readonly note: string;
  readonly reviewedAt: string;
  readonly keyid: string;
}

export interface VerifiedSource {
  readonly reader: SourceReader;
  readonly tree: SourceTree;
  /** Path → SHA-256, from the build link the layout's threshold of functionaries agreed on. */
  readonly materials: Readonly<Record<string, string>>;
  /** Whether every file was fetched and checked already (small sources). */
  readonly allChecked: boolean;
}

export interface ReleasesReport {
  readonly trust: readonly Check[];
  readonly releases: readonly ReleaseReport[];
}

const short = (hex: string): string => `${hex.slice(0, 16)}…`;

export async function verifyReleases(
  config: PortalConfig,
  now: Date,
  fetcher?: Fetcher,
): Promise<ReleasesReport> {
  const repo = config.repo;
  if (repo === null) return { trust: [], releases: [] };
  const trust: Check[] = [];

  const bundleStep = await openPinnedTrustBundle(config, repo, fetcher);
  trust.push(bundleStep.check);
  const bundle = bundleStep.value;

  const tufBase = {
    id: 'tuf',
    title: 'TUF metadata',
    what: "From the bundle's TUF root, first every newer root (TUF 5.3: each N+1.root.json signed by a threshold of root vN's root keys and of its own, version N+1, the last unexpired), then timestamp → snapshot → targets → the delegated releases role under the newest root (TUF 5.4–5.6): each file the version, length and SHA-256 its parent lists, each role at its threshold of Ed25519 signatures over the canonical JSON, none expired. The releases role needs the vendor's and the supervisor's release keys.",
  };
  let chain: TufChain | undefined;
  if (bundle === undefined) {
    trust.push(skipped(tufBase, 'the trust bundle did not verify'));
  } else {
    const r = await step(tufBase, async () => {
      const c = await verifyTufChain(repo, bundle.tufRoot.signed, now, fetcher);
      return {
        value: c,
        summary: `root v${String(c.root.version)}${c.rootUpdates.length > 0 ? ` (rotated from v${String(c.pinnedRootVersion)}, each step signed by both roots' thresholds)` : ''}; releases v${String(c.releases.signed.version)} signed by ${signerNames(c, bundle).join(' and ')}`,
        against: Object.entries(c.releaseKeys)
          .map(([k]) => `${who(k, c, bundle)}: ${k}`)
          .join('\n'),
        proof: [
          `root v${String(c.pinnedRootVersion)} (in the trust bundle)`,
          ...c.rootUpdates.map(
            (u) =>
              `→ root v${String(u.version)} sha256 ${u.sha256}: ${u.byPrevious.signedBy.length} of v${String(u.version - 1)}'s root keys (threshold ${u.byPrevious.threshold}) and ${u.bySelf.signedBy.length} of its own (threshold ${u.bySelf.threshold})`,
          ),
          ...(['timestamp', 'snapshot', 'targets', 'releases'] as const).map(
            (role) =>
              `${role} v${String(c[role].signed.version)} sha256 ${c[role].sha256}, ${c[role].signedBy.length} of threshold ${c[role].threshold}, expires ${String(c[role].signed.expires)}`,
          ),
        ],
      };
    });
    trust.push(r.check);
    chain = r.value;
  }

  let records: ReleaseRecord[] = [];
  if (config.assembly !== null) {
    const listed = await step(
      {
        id: 'assembly',
        title: "Assembly line's release list",
        what: `GET ${config.assembly}releases: what the vendor says it built (claims, checked below against signed attestations)`,
      },
      async () => {
        const v = (await fetchJson(`${config.assembly}releases`, fetcher)) as {
          releases?: ReleaseRecord[];
        };
        if (!Array.isArray(v.releases))
          throw new CodedError('PORTAL_ASSEMBLY_MALFORMED', 'no releases list');
        return { value: v.releases, summary: `${v.releases.length} release(s) listed` };
      },
    );
    if (listed.check.verdict === 'fail') trust.push(listed.check);
    records = listed.value ?? [];
  }

  const targets = chain === undefined ? [] : targetsOf(chain.releases);
  const ids = new Set<string>([
    ...records.map((r) => r.id),
    ...targets.flatMap((t) => (t.custom.releaseId === undefined ? [] : [t.custom.releaseId])),
  ]);
  const releaseLog = config.logs.find((l) => l.id === 'release-log');
  const releases: ReleaseReport[] = [];
  for (const id of ids) {
    const record = records.find((r) => r.id === id);
    const own = targets.filter((t) => t.custom.releaseId === id);
    releases.push(
      await verifyRelease({
        id,
        record,
        own,
        bundle,
        chain,
        repo,
        assembly: config.assembly,
        releaseLogBase: releaseLog?.base,
        now,
        fetcher,
      }),
    );
  }
  return { trust, releases };
}

function who(keyid: string, chain: TufChain, bundle: TrustBundle): string {
  const key = publicKeyFromKeyDict(chain.releaseKeys[keyid]);
  const supervisor = bundle.supervisor.tufKeys.release.keyval.public;
  return Array.from(key.publicKey, (b) => b.toString(16).padStart(2, '0')).join('') === supervisor
    ? 'supervisor'
    : 'vendor';
}

function signerNames(chain: TufChain, bundle: TrustBundle): string[] {
  const names = chain.releases.signedBy.map((k) => who(k, chain, bundle));
  if (!names.includes('supervisor')) {
    throw new CodedError(
      'TUF_SUPERVISOR_SIGNATURE_MISSING',
      "the releases metadata lacks the supervisor's signature",
    );
  }
  return names;
}

async function verifyRelease(r: {
  id: string;
  record: ReleaseRecord | undefined;
  own: TufTarget[];
  bundle: TrustBundle | undefined;
  chain: TufChain | undefined;
  repo: string;
  assembly: string | null;
  releaseLogBase: string | undefined;
  now: Date;
  fetcher: Fetcher | undefined;
}): Promise<ReleaseReport> {
  const { id, record, own, bundle, repo, fetcher } = r;
  const [name, version] = (own[0]?.name ?? '').split('/');
  const checks: Check[] = [];
  const attestation = (kind: string) =>
    own.find((t) => t.custom.kind === 'attestation' && t.custom.attestation === kind);
  const artifacts = own.filter((t) => t.custom.kind === 'artifact');
  const base = { name: name ?? record?.name ?? '?', version: version ?? record?.version ?? '?' };

  const tufCheck = {
    id: 'tuf',
    title: 'Published (TUF)',
    what: "The release's targets are listed by the releases role, which the vendor and the supervisor both signed (checked above).",
  };
  if (r.chain === undefined || bundle === undefined)
    checks.push(skipped(tufCheck, 'the TUF metadata did not verify'));
  else if (own.length === 0)
    checks.push({
      ...tufCheck,
      verdict: 'note',
      summary: 'not published: no TUF target names this release',
    });
  else
    checks.push({
      ...tufCheck,
      verdict: 'pass',
      summary: `${own.length} targets, releases role signed by the vendor and the supervisor`,
      proof: own.map((t) => `${t.name} sha256 ${t.sha256}`),
    });

  let vsaOut: ReleaseReport['vsa'];
  let logIndex: string | undefined;
  let reviews: Review[] = [];
  let source: VerifiedSource | undefined;
  let rules: ReleaseReport['rules'];
  if (bundle !== undefined && own.length > 0) {
    const subjects = artifacts.map((a) => ({
      name: a.name.split('/').pop() ?? a.name,
      sha256: a.sha256,
    }));
    const subjectsMatch = (
      subject: readonly { name?: string; digest: Record<string, string> }[],
    ): void => {
      for (const a of subjects) {
        if (!subject.some((s) => s.digest.sha256 === a.sha256)) {
          throw new CodedError(
            'PORTAL_SUBJECT_MISMATCH',
            `${a.name} (sha256 ${short(a.sha256)}) is not a subject`,
          );
        }
      }
    };
    const prov = attestation('provenance');
    const provStep = await step(
      {
        id: 'provenance',
        title: 'Provenance',
        what: "The SLSA v1 provenance is a DSSE envelope signed by the builder's key from the trust bundle, names the pinned builder id, has the published artifacts as subjects, and the source commit and recipe the assembly line reports.",
      },
      async () => {
        if (prov === undefined)
          throw new CodedError('PORTAL_ATTESTATION_MISSING', 'no provenance target');
        const env = parseEnvelope(await fetchTarget(repo, prov, fetcher));
        const key = publicKeyFromPem(bundle.builder.publicKeyPem);
        const { statement } = verifyStatementEnvelope(env, { keys: [key] });
        const p = provenanceOf(statement);
        verifyProvenance(p, { builderId: bundle.builder.builderId });
        subjectsMatch(statement.subject);
        const deps = p.buildDefinition.resolvedDependencies ?? [];
        const commit = deps.find((d) => d.digest?.gitCommit !== undefined)?.digest?.gitCommit;
        if (record !== undefined && commit !== record.commit) {
          throw new CodedError(
            'PORTAL_PROVENANCE_MISMATCH',
            `provenance names commit ${String(commit)}, the assembly line ${record.commit}`,
          );
        }
        const recipe = deps.find((d) => d.name === record?.recipe.path)?.digest?.sha256;
        if (record !== undefined && recipe !== record.recipe.sha256) {
          throw new CodedError(
            'PORTAL_PROVENANCE_MISMATCH',
            `provenance names recipe sha256 ${String(recipe)}, the assembly line ${record.recipe.sha256}`,
          );
        }
        if (commit === undefined)
          throw new CodedError('PORTAL_PROVENANCE_MISMATCH', 'the provenance names no gitCommit');
        // The recipe as the provenance names it (externalParameters.recipe) and pins it (resolvedDependencies).
        const recipePath = (p.buildDefinition.externalParameters as { recipe?: unknown }).recipe;
        const recipeSha256 =
          typeof recipePath === 'string'
            ? deps.find((d) => d.name === recipePath)?.digest?.sha256
            : undefined;
        return {
          value: {
            commit,
            recipe:
              typeof recipePath === 'string' && recipeSha256 !== undefined
                ? { path: recipePath, sha256: recipeSha256 }
                : undefined,
          },
          summary: `built by ${p.runDetails.builder.id} from commit ${commit}`,
          against: `builder key ${key.keyid}`,
          proof: [
            `envelope sha256 ${prov.sha256}`,
            ...deps.map((d) => `${d.uri ?? d.name ?? ''} ${JSON.stringify(d.digest ?? {})}`),
          ],
        };
      },
    );
    checks.push(provStep.check);
    const vsa = attestation('vsa');
    const vsaStep = await step(
      {
        id: 'vsa',
        title: 'Supervisor rebuild (VSA)',
        what: "The SLSA verification summary is signed by the supervisor's key from the trust bundle, names its verifier id and this release's source (resourceUri), says PASSED, and has the published artifacts as subjects.",
      },
      async () => {
        if (vsa === undefined) throw new CodedError('PORTAL_ATTESTATION_MISSING', 'no VSA target');
        const env = parseEnvelope(await fetchTarget(repo, vsa, fetcher));
        const key = publicKeyFromPem(bundle.supervisor.publicKeyPem);
        const { statement } = verifyStatementEnvelope(env, { keys: [key] });
        const s = verificationSummaryOf(statement);
        verifyVerificationSummary(s, {
          verifierId: bundle.supervisor.verifierId,
          ...(record === undefined ? {} : { resourceUri: releaseResourceUri(record) }),
        });
        subjectsMatch(statement.subject);
        return {
          value: { result: s.verificationResult, levels: s.verifiedLevels },
          summary: `${s.verificationResult}: ${s.verifiedLevels.join(', ')} (${s.timeVerified})`,
          against: `supervisor key ${key.keyid} (${bundle.supervisor.verifierId})`,
          proof: [
            `resourceUri ${s.resourceUri}`,
            ...(s.inputAttestations ?? []).map(
              (a) => `input ${a.name ?? ''} sha256 ${a.digest.sha256 ?? ''}`,
            ),
          ],
        };
      },
    );
    checks.push(vsaStep.check);
    vsaOut = vsaStep.value;

    const receipt = own.find((t) => t.custom.kind === 'release-log-receipt');
    const policy = parsePolicy(bundle.witnessPolicy);
    const inclusion = await step(
      {
        id: 'inclusion',
        title: 'In the release log',
        what: "The release-log receipt (c2sp.org/tlog-proof) proves the inclusion of this release's entry, rebuilt here from its TUF targets (artifacts, provenance, VSA, approval digests), under a checkpoint signed by the release log and cosigned to the witness quorum of the trust bundle's policy; that checkpoint is consistent with the log's current one.",
      },
      async () => {
        if (receipt === undefined)
          throw new CodedError('PORTAL_RECEIPT_MISSING', 'no release-log receipt target');
        const digest = (kind: string): string => {
          const t = attestation(kind);
          if (t === undefined)
            throw new CodedError('PORTAL_ATTESTATION_MISSING', `no ${kind} target`);
          return t.sha256;
        };
        const entry = encodeReleaseLogEntry({
          releaseId: id,
          name: base.name,
          version: base.version,
          targets: artifacts.map((a) => ({ name: a.name, sha256: a.sha256 })),
          provenance: { sha256: digest('provenance') },
          vsa: { sha256: digest('vsa') },
          approval: { sha256: digest('approval') },
        });
        const text = new TextDecoder().decode(await fetchTarget(repo, receipt, fetcher));
        const v = verifyTlogProof(text, entry, policy);
        const proof = [
          `entry sha256 ${sha256Hex(entry)}`,
          `index ${v.index} of size ${v.checkpoint.size}, root ${encodeBase64(v.checkpoint.rootHash)}`,
          `cosigned by ${v.cosigners.join(', ')}`,
        ];
        if (r.releaseLogBase !== undefined) {
          const current = await fetchText(`${r.releaseLogBase}checkpoint`, fetcher);
          const { checkpoint } = openCheckpoint(
            current,
            policy.logs.map((l) => l.verifier),
          );
          proof.push(
            ...(await checkConsistent(r.releaseLogBase, v.checkpoint, checkpoint, fetcher)),
          );
        }
        return {
          value: v.index.toString(),
          summary: `entry ${v.index} included (tree size ${v.checkpoint.size})`,
          against: bundle.witnessPolicy,
          proof,
        };
      },
    );
    checks.push(inclusion.check);
    logIndex = inclusion.value;

    const layout = await verifyInToto({
      own,
      artifacts,
      bundle,
      repo,
      assembly: r.assembly,
      now: r.now,
      fetcher,
    });
    checks.push(layout.check);
    const review = await verifyReviews({ id, own, artifacts, bundle, repo, fetcher });
    checks.push(review.check);
    reviews = review.value ?? [];
    const src = await verifySource({
      id,
      commit: provStep.value?.commit,
      recipe: provStep.value?.recipe,
      materials: layout.value,
      assembly: r.assembly,
      fetcher,
    });
    checks.push(src.check);
    source = src.value;
    if (
      record?.kind === 'rules' ||
      (record === undefined && artifacts.some((a) => a.name.endsWith('.tar')))
    ) {
      const bundleTarget = artifacts.find((a) => a.name.endsWith('.tar'));
      const read = await step(
        {
          id: 'rules',
          title: 'Rules',
          what: "The rules bundle is the TUF target the releases role lists (length and SHA-256); every rule file is the SHA-256 its manifest lists; each rule is read from its file with @glasshouse/bundle's rule lexer.",
        },
        async () => {
          if (bundleTarget === undefined)
            throw new CodedError('PORTAL_NOT_A_RULES_BUNDLE', 'no .tar artifact');
          const set = rulesOfBundle(await fetchTarget(repo, bundleTarget, fetcher));
          return {
            value: set,
            summary: `${set.size} rules in ${bundleTarget.name.split('/').pop() ?? ''}`,
            proof: [
              `${bundleTarget.name} sha256 ${bundleTarget.sha256}`,
              ...[...set.keys()].sort(),
            ],
          };
        },
      );
      checks.push(read.check);
      rules = read.value;
    }
  }
  return { id, ...base, record, vsa: vsaOut, logIndex, checks, reviews, source, rules };
}

const basename = (name: string): string => name.split('/').pop() ?? name;

/**
 * The in-toto layout verdict (in-toto-spec §5.2): the layout and links are
 * the TUF targets both roles signed; the layout is signed by the vendor's
 * layout key and unexpired, its build step names the trust bundle's builder
 * and supervisor keys at threshold 2, both links verify and agree, and the
 * published artifacts are exactly the step's products.
 */
async function verifyInToto(r: {
  own: TufTarget[];
  artifacts: TufTarget[];
  bundle: TrustBundle;
  repo: string;
  assembly: string | null;
  now: Date;
  fetcher: Fetcher | undefined;
}): Promise<{ check: Check; value: Readonly<Record<string, string>> | undefined }> {
  return step(
    {
      id: 'layout',
      title: 'in-toto layout',
      what: "What in-toto-verify checks (in-toto-spec §5.2), here in the browser: the layout (a TUF target both roles signed) is signed by the vendor's layout key and unexpired; its build step requires the trust bundle's builder and supervisor keys at threshold 2; both build links (TUF targets) are signed by those functionaries and report the same materials and products (§4.3.1); the published artifacts are exactly the step's products with the same SHA-256 (the inspection's MATCH and DISALLOW rules).",
    },
    async () => {
      const layoutTarget = r.own.find((t) => t.custom.attestation === 'layout');
      if (layoutTarget === undefined)
        throw new CodedError('PORTAL_ATTESTATION_MISSING', 'no layout target');
      if (r.assembly === null)
        throw new CodedError(
          'PORTAL_ATTESTATION_MISSING',
          'no assembly line to read the layout key from',
        );
      const layout = parseLayoutMetablock(await fetchTarget(r.repo, layoutTarget, r.fetcher));
      const links = [];
      for (const t of r.own.filter((o) => o.custom.attestation === 'link'))
        links.push(parseLinkMetablock(await fetchTarget(r.repo, t, r.fetcher)));
      const info = (await fetchJson(`${r.assembly}layout-key`, r.fetcher)) as {
        publicKeyPem?: unknown;
      };
      if (typeof info.publicKeyPem !== 'string')
        throw new CodedError('PORTAL_ASSEMBLY_MALFORMED', 'layout-key has no publicKeyPem');
      const layoutKey = publicKeyFromPem(info.publicKeyPem);
      const builder = publicKeyFromPem(r.bundle.builder.publicKeyPem);
      const supervisor = publicKeyFromPem(r.bundle.supervisor.publicKeyPem);
      const build = layout.signed.steps.find((s) => s.name === BUILD_STEP_NAME);
      if (
        build === undefined ||
        build.threshold < 2 ||
        !build.pubkeys.includes(builder.keyid) ||
        !build.pubkeys.includes(supervisor.keyid)
      ) {
        throw new CodedError(
          'PORTAL_LAYOUT_FUNCTIONARIES',
          "the layout's build step does not require both the bundle's builder and supervisor keys (threshold 2)",
        );
      }
      const { layout: verified, step: agreed } = verifyReleaseLayout(
        {
          layout,
          links,
          artifacts: r.artifacts.map((a) => ({ name: basename(a.name), sha256: a.sha256 })),
        },
        { layoutKey, now: r.now },
      );
      const named = (k: string) =>
        k === builder.keyid ? `builder ${k}` : k === supervisor.keyid ? `supervisor ${k}` : k;
      const materials = Object.fromEntries(
        Object.entries(agreed.link.materials).flatMap(([p, d]) =>
          d.sha256 === undefined ? [] : [[p, d.sha256]],
        ),
      );
      return {
        value: materials,
        summary: `PASS: build step by ${agreed.functionaries.length} of ${build.threshold} functionaries, ${Object.keys(agreed.link.products).length} product(s) delivered as built`,
        against: `layout key ${layoutKey.keyid} (as the assembly line serves it; the layout's bytes are pinned by the releases role)\nfunctionaries: ${build.pubkeys.map(named).join(', ')}`,
        proof: [
          `layout sha256 ${layoutTarget.sha256}, expires ${verified.expires}`,
          `readme: ${verified.readme}`,
          ...agreed.functionaries.map((k) => `link by ${named(k)}`),
          `command: ${agreed.link.command.join(' ')}`,
          `${Object.keys(agreed.link.materials).length} materials (source files)`,
          ...Object.entries(agreed.link.products).map(
            ([n, d]) => `product ${n} sha256 ${d.sha256 ?? ''}`,
          ),
          `inspection ${verified.inspect.map((i) => i.name).join(', ')}: each delivered artifact MATCHes the build's product (checked above); its command runs on the endpoint`,
        ],
      };
    },
  );
}

/** The supervisor's review records: DSSE signed by the bundle's supervisor key, about this release's artifacts. */
async function verifyReviews(r: {
  id: string;
  own: TufTarget[];
  artifacts: TufTarget[];
  bundle: TrustBundle;
  repo: string;
  fetcher: Fetcher | undefined;
}): Promise<{ check: Check; value: Review[] | undefined }> {
  const base = {
    id: 'review',
    title: 'Review notes',
    what:
      'Each review record is an in-toto Statement (predicate ' +
      REVIEW_PREDICATE_TYPE +
      ") signed by the supervisor's key from the trust bundle, about this release (its id) and exactly its artifacts.",
  };
  const targets = r.own.filter((t) => t.custom.attestation === 'review');
  if (targets.length === 0) {
    return {
      check: { ...base, verdict: 'note', summary: 'no review record was published' },
      value: [],
    };
  }
  return step(base, async () => {
    const key = publicKeyFromPem(r.bundle.supervisor.publicKeyPem);
    const out: Review[] = [];
    for (const t of targets) {
      const st = verifySupervisorStatement(parseEnvelope(await fetchTarget(r.repo, t, r.fetcher)), {
        key,
        predicateType: REVIEW_PREDICATE_TYPE,
        release: {
          id: r.id,
          artifacts: r.artifacts.map((a) => ({ name: basename(a.name), sha256: a.sha256 })),
        },
      });
      const p = st.predicate as { reviewer?: unknown; note?: unknown; reviewedAt?: unknown };
      out.push({
        reviewer: String(p.reviewer),
        note: String(p.note),
        reviewedAt: String(p.reviewedAt),
        keyid: key.keyid,
      });
    }
    return {
      value: out,
      summary: `${out.length} review(s) signed by the supervisor: ${out.map((v) => v.reviewer).join(', ')}`,
      against: `supervisor key ${key.keyid}`,
      proof: targets.map((t) => `${t.name} sha256 ${t.sha256}`),
    };
  });
}

/**
 * The source at the provenance's commit: every tree's SHA-1 checked from
 * the commit down, its files the same paths as the build link's materials,
 * and — for a small source — every file's SHA-256 the material's.
 */
async function verifySource(r: {
  id: string;
  commit: string | undefined;
  /** The recipe file as the provenance's resolvedDependencies pin it. */
  recipe: { path: string; sha256: string } | undefined;
  materials: Readonly<Record<string, string>> | undefined;
  assembly: string | null;
  fetcher: Fetcher | undefined;
}): Promise<{ check: Check; value: VerifiedSource | undefined }> {
  const base = {
    id: 'source',
    title: 'Source tree',
    what: `The commit the provenance names is read from the assembly line one git object at a time: the commit's SHA-1 is the provenance's gitCommit, each tree's the id its parent lists (git's object format). The recipe file at the commit has the SHA-256 the provenance's resolvedDependencies give it. Its files are exactly the build link's materials, and a file's SHA-256 is its material's (every file when there are at most ${EAGER_FILES}, otherwise each file when opened).`,
  };
  if (r.commit === undefined)
    return { check: skipped(base, 'the provenance did not verify'), value: undefined };
  if (r.materials === undefined)
    return {
      check: skipped(base, 'the in-toto layout and links did not verify'),
      value: undefined,
    };
  if (r.assembly === null)
    return { check: skipped(base, 'no assembly line serves the source'), value: undefined };
  const commit = r.commit;
  const materials = r.materials;
  const reader = new SourceReader(r.assembly, r.id, r.fetcher);
  return step(base, async () => {
    const tree = await reader.walk(commit);
    compareWithMaterials(tree, materials);
    const files = [...tree.files.values()];
    const allChecked = files.length <= EAGER_FILES;
    if (allChecked) for (const f of files) await reader.file(f, materials[f.path]);
    // The recipe file in the tree is the one the provenance's resolvedDependencies pin.
    const recipeFile = r.recipe === undefined ? undefined : tree.files.get(r.recipe.path);
    if (r.recipe !== undefined) {
      if (recipeFile === undefined)
        throw new CodedError(
          'PORTAL_SOURCE_NOT_MATERIAL',
          `the commit has no recipe ${r.recipe.path}`,
        );
      await reader.file(recipeFile, r.recipe.sha256, "the provenance's resolvedDependencies");
    }
    return {
      value: { reader, tree, materials, allChecked },
      summary: `commit ${commit.slice(0, 12)} → tree ${tree.tree.slice(0, 12)}: ${files.length} files, the build link's materials${allChecked ? ', every SHA-256 matching' : ' (each file checked when opened)'}`,
      against: `gitCommit ${commit} (the builder's signed provenance)`,
      proof: [
        `tree ${tree.tree}`,
        `${tree.trees.size} trees, SHA-1 checked`,
        `${files.length} files`,
        ...(r.recipe === undefined
          ? []
          : [
              `recipe ${r.recipe.path} sha256 ${r.recipe.sha256} (resolvedDependencies) = the file at the commit`,
            ]),
      ],
    };
  });
}
