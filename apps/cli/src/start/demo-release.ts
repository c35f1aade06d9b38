/**
 * First start: the repository's root ceremony and the demo releases (the
 * rules, then the agent itself as a product), each step done by the role
 * that owns it and only over HTTP between roles:
 *
 *   vendor      builds the release on the assembly line
 *   supervisor  reviews the release, rebuilds it and approves it
 *   vendor      publishes it: release-log entry (witnessed), targets,
 *               releases draft signed with the vendor's release key
 *   supervisor  checks the draft against its approvals and co-signs it
 *
 * Every step is skipped when its result is already there, so a start that
 * was interrupted half way picks up where it stopped, and a later start
 * changes nothing.
 */
import { readFile } from 'node:fs/promises';
import type { PublicKey } from '@glasshouse/attest';
import {
  type RepoService,
  RepoClient,
  type SupervisorTufKeys,
  readRepositoryState,
  repoPaths,
  supervisorDirApprovals,
  supervisorSignRelease,
  supervisorSignRoot,
} from '@glasshouse/distribution';
import { CodedError } from '@glasshouse/errors';
import { AssemblyClient, type ReleaseRecord, type Supervisor } from '@glasshouse/release';
import { encodeReleaseLogEntry } from '@glasshouse/release-format';
import type { DemoSource } from './demo-source.js';

/** The demo recipe's name (packages/release/testdata/rules/glasshouse-recipe.json). */
export const DEMO_RELEASE_NAME = 'demo-rules';
export const DEMO_REVIEWER = 'Demo Reviewer';
export const DEMO_RULES_REVIEW_NOTE =
  'Read every rule of the demo rule set; each sample matches its rule and no clean file matches any.';
export const DEMO_PRODUCT_REVIEW_NOTE =
  "Read the agent's sources and its build; the pinned dependency tarballs match the lockfile.";

type Say = (line: string) => void;

/** Root v1 needs the supervisor's root signature: done once, when no root is published. */
export async function ensureRootPublished(opts: {
  repoDir: string;
  repoUrl: string;
  supervisorTufKeys: SupervisorTufKeys;
  say: Say;
}): Promise<void> {
  const state = await readRepositoryState(opts.repoDir);
  if (state.rootVersion > 0) return;
  opts.say('supervisor: checking the root v1 draft and co-signing it (root threshold 2)');
  const result = await supervisorSignRoot(new RepoClient(opts.repoUrl), opts.supervisorTufKeys);
  if (!result.published) {
    throw new CodedError(
      'START_DEMO_INCOMPLETE',
      `root v${result.version} is still not published after the supervisor signed`,
    );
  }
  opts.say(
    `repository: root v${result.version} published, signed by the vendor and the supervisor`,
  );
}

export interface DemoReleaseOptions {
  readonly assemblyUrl: string;
  readonly repoUrl: string;
  readonly repoDir: string;
  readonly repo: RepoService;
  readonly supervisor: Supervisor;
  readonly supervisorDir: string;
  readonly supervisorKey: PublicKey;
  readonly supervisorTufKeys: SupervisorTufKeys;
  /** Signs the vendor release engineer's build request (RFC 9421). */
  readonly engineerFetch: typeof fetch;
  /** Signs the supervisor's uploads to the assembly line (RFC 9421). */
  readonly supervisorFetch: typeof fetch;
  readonly say: Say;
  /** Throws when a stop was asked for; called between steps. */
  readonly checkStop: () => void;
}

/** One demo release: its name, its source repository (made on first use) and the review's note. */
export interface DemoReleaseSpec {
  readonly name: string;
  readonly source: () => Promise<DemoSource>;
  readonly reviewNote: string;
}

/** Publishes a demo release through the whole flow unless the repository already lists it. */
export async function ensureDemoRelease(
  opts: DemoReleaseOptions,
  spec: DemoReleaseSpec,
): Promise<void> {
  const { say } = opts;
  if ((await publishedRelease(opts.repoDir, spec.name)) !== undefined) return;
  const state = await readRepositoryState(opts.repoDir);
  if (state.pending.releases === undefined) {
    const releaseId = await approvedDemoRelease(opts, spec);
    opts.checkStop();
    say(`vendor: publishing release ${releaseId} (release log, then TUF targets)`);
    const draft = await opts.repo.publish(releaseId, (m) => {
      say(`repository: ${m}`);
    });
    say(
      `repository: ${draft.targets.length} targets in releases draft v${draft.draftVersion}, release-log index ${draft.releaseLog.index}`,
    );
    opts.checkStop();
  }
  say('supervisor: checking the releases draft against its approvals and co-signing it');
  const signed = await supervisorSignRelease(
    new RepoClient(opts.repoUrl),
    opts.supervisorTufKeys,
    supervisorDirApprovals(opts.supervisorDir, opts.supervisorKey),
  );
  if (!signed.published) {
    throw new CodedError(
      'START_DEMO_INCOMPLETE',
      `releases v${signed.version} is not published: ${signed.signed} of ${signed.threshold} signatures`,
    );
  }
  say(
    `repository: releases v${signed.version} published (${signed.signed} of ${signed.threshold} signatures)`,
  );
}

/** The demo release on the assembly line, built, reviewed and rebuilt as far as needed. */
async function approvedDemoRelease(
  opts: DemoReleaseOptions,
  spec: DemoReleaseSpec,
): Promise<string> {
  const { say, supervisor } = opts;
  // Each role signs its own writes: the engineer the build, the supervisor its uploads.
  const client = new AssemblyClient(opts.assemblyUrl, { fetch: opts.engineerFetch });
  const supervising = new AssemblyClient(opts.assemblyUrl, { fetch: opts.supervisorFetch });
  let release: ReleaseRecord | undefined = (await client.listReleases()).find(
    (r) => r.name === spec.name && r.status !== 'rejected',
  );
  if (release === undefined) {
    const source = await spec.source();
    say(`vendor: building ${spec.name} from ${source.dir} at ${source.commit}`);
    release = await client.build(source.dir, source.commit, (m) => {
      say(`assembly: ${m}`);
    });
    say(
      `assembly: built release ${release.id}: ${release.artifacts.map((a) => a.name).join(', ')}`,
    );
  }
  if (release.status === 'approved') return release.id;
  opts.checkStop();

  if (!release.attestations.some((a) => a.kind === 'review')) {
    say(`supervisor: "${DEMO_REVIEWER}" reviews release ${release.id}`);
    await supervisor.review(supervising, release.id, DEMO_REVIEWER, spec.reviewNote);
    opts.checkStop();
  }
  say(`supervisor: rebuilding release ${release.id} from source in its own sandbox`);
  const approved = await supervisor.rebuild(supervising, release.id, (m) => {
    say(`supervisor rebuild: ${m}`);
  });
  say(
    `supervisor: approved release ${approved.record.id} (VSA ${approved.vsa.sha256.slice(0, 16)}…)`,
  );
  return approved.record.id;
}

/** One target of the published releases metadata. */
export interface PublishedTarget {
  readonly name: string;
  readonly sha256: string;
  readonly custom: {
    readonly releaseId?: string;
    readonly kind?: string;
    readonly attestation?: string;
  };
}

export interface PublishedRelease {
  readonly releaseId: string;
  readonly name: string;
  readonly version: string;
  readonly targets: readonly PublishedTarget[];
}

/** The release `name` as the published releases metadata lists it; undefined before it is published. */
export async function publishedRelease(
  repoDir: string,
  name: string,
): Promise<PublishedRelease | undefined> {
  const state = await readRepositoryState(repoDir);
  if (state.releases === undefined) return undefined;
  const doc = JSON.parse(
    await readFile(repoPaths(repoDir).versioned(state.releases.version, 'releases'), 'utf8'),
  ) as {
    signed: {
      targets: Record<string, { hashes: { sha256?: string }; custom?: PublishedTarget['custom'] }>;
    };
  };
  const all: PublishedTarget[] = Object.entries(doc.signed.targets).map(([name, info]) => ({
    name,
    sha256: info.hashes.sha256 ?? '',
    custom: info.custom ?? {},
  }));
  const demo = all.find((t) => t.custom.kind === 'artifact' && t.name.startsWith(`${name}/`));
  const releaseId = demo?.custom.releaseId;
  if (demo === undefined || releaseId === undefined) return undefined;
  const [, version = ''] = demo.name.split('/');
  return {
    releaseId,
    name,
    version,
    targets: all
      .filter((t) => t.custom.releaseId === releaseId)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

/**
 * The release-log entry of a published release, rebuilt from its TUF
 * targets alone (artifacts, and the provenance, VSA and approval
 * attestations): what an endpoint checks the release-log receipt against.
 */
export function releaseLogEntryOf(release: PublishedRelease): Uint8Array {
  const attestation = (kind: string): { sha256: string } => {
    const found = release.targets.find(
      (t) => t.custom.kind === 'attestation' && t.custom.attestation === kind,
    );
    if (found === undefined) {
      throw new CodedError(
        'START_DEMO_INCOMPLETE',
        `release ${release.releaseId} has no ${kind} target`,
      );
    }
    return { sha256: found.sha256 };
  };
  return encodeReleaseLogEntry({
    releaseId: release.releaseId,
    name: release.name,
    version: release.version,
    targets: release.targets
      .filter((t) => t.custom.kind === 'artifact')
      .map((t) => ({ name: t.name, sha256: t.sha256 })),
    provenance: attestation('provenance'),
    vsa: attestation('vsa'),
    approval: attestation('approval'),
  });
}
