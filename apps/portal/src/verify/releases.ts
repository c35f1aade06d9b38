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
  encodeReleaseLogEntry,
  releaseResourceUri,
  type ReleaseRecord,
  type TrustBundle,
} from '@glasshouse/release-format';
import { encodeBase64, openCheckpoint, parsePolicy, verifyTlogProof } from '@glasshouse/tlog';
import type { PortalConfig } from '../config.js';
import { skipped, step, type Check } from './check.js';
import { fetchJson, fetchText, type Fetcher } from './fetch.js';
import { checkConsistent } from './logs.js';
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
    what: "timestamp → snapshot → targets → the delegated releases role, from the bundle's TUF root (TUF 5.4–5.6): each file the version, length and SHA-256 its parent lists, each role at its threshold of Ed25519 signatures over the canonical JSON, none expired. The releases role needs the vendor's and the supervisor's release keys.",
  };
  let chain: TufChain | undefined;
  if (bundle === undefined) {
    trust.push(skipped(tufBase, 'the trust bundle did not verify'));
  } else {
    const r = await step(tufBase, async () => {
      const c = await verifyTufChain(repo, bundle.tufRoot.signed, now, fetcher);
      return {
        value: c,
        summary: `releases v${String(c.releases.signed.version)} signed by ${signerNames(c, bundle).join(' and ')}`,
        against: Object.entries(c.releaseKeys)
          .map(([k]) => `${who(k, c, bundle)}: ${k}`)
          .join('\n'),
        proof: (['timestamp', 'snapshot', 'targets', 'releases'] as const).map(
          (role) =>
            `${role} v${String(c[role].signed.version)} sha256 ${c[role].sha256}, ${c[role].signedBy.length} of threshold ${c[role].threshold}, expires ${String(c[role].signed.expires)}`,
        ),
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
        releaseLogBase: releaseLog?.base,
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
  releaseLogBase: string | undefined;
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
    checks.push(
      (
        await step(
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
            return {
              value: undefined,
              summary: `built by ${p.runDetails.builder.id} from commit ${String(commit)}`,
              against: `builder key ${key.keyid}`,
              proof: [
                `envelope sha256 ${prov.sha256}`,
                ...deps.map((d) => `${d.uri ?? d.name ?? ''} ${JSON.stringify(d.digest ?? {})}`),
              ],
            };
          },
        )
      ).check,
    );
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
  }
  return { id, ...base, record, vsa: vsaOut, logIndex, checks };
}
