/**
 * The release half of `start`: the vendor's release log, assembly line and
 * update repository, the supervisor's witness of the release log and its
 * monitors, the demo release through the whole flow and the endpoints'
 * trust bundle. One ordered sequence: each step needs the keys and URLs of
 * the ones before. Each role keeps its own keys and directory; only public
 * keys cross over, and the roles talk over loopback HTTP.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { publicKeyFromPem } from '@glasshouse/attest';
import { CodedError } from '@glasshouse/errors';
import {
  RepoService,
  TRUST_BUNDLE_PATH,
  buildRepoServer,
  ensureSupervisorTufKeys,
  formatSupervisorKeysFile,
  initRepository,
  parseSupervisorKeysFile,
  repoPaths,
  type SupervisorTufKeys,
} from '@glasshouse/distribution';
import {
  SUPERVISOR_KEY_FILE,
  normalizeSourceUri,
  type BuilderIdentity,
  type SupervisorIdentity,
} from '@glasshouse/release';
import {
  ROUTES,
  allowListOf,
  caller,
  ensureCallerKey,
  formatCallers,
  readCallerKey,
  signingFetch,
} from '../callers.js';
import { startAssemblyServer, type RunningAssemblyServer } from '../commands/assembly.js';
import { initDataDir, startLogServer, type RunningLogServer } from '../commands/log.js';
import { ensureTwoPartyTargets, repositoryCallerKeyPath } from '../commands/repo.js';
import { startRepoMonitor, type RunningRepoMonitor } from '../commands/supervisor.js';
import {
  initWitnessDir,
  startWitnessServer,
  trustLogInWitness,
  type RunningWitnessServer,
} from '../commands/witness.js';
import { listenOn, parseListen } from '../io.js';
import type { StartContext } from './context.js';
import {
  DEMO_PRODUCT_REVIEW_NOTE,
  DEMO_RELEASE_NAME,
  DEMO_RULES_REVIEW_NOTE,
  ensureDemoRelease,
  ensureRootPublished,
  publishedRelease,
  releaseLogEntryOf,
  type PublishedRelease,
} from './demo-release.js';
import { ensureDemoSource } from './demo-source.js';
import { PRODUCT_RELEASE_NAME, ensureProductSource } from './product-source.js';
import { writeIfChanged } from './files.js';
import {
  DEMO_VERDICTS_NAME,
  DEMO_VERDICTS_REVIEW_NOTE,
  ensureDemoVerdictsSource,
} from './demo-verdicts.js';
import { pinEachOther } from './pinning.js';
import {
  startReleaseLogMonitor,
  type MonitorPass,
  type RunningReleaseLogMonitor,
} from './release-log-monitor.js';
import type { ResidencyTrust } from '@glasshouse/release-format';
import { supervisorResidencyKeys } from './data-prepare.js';
import { publishTrustBundle } from './trust-bundle.js';
import { writeWitnessPolicy, type LocalWitness, type PolicyLog } from './witness-policy.js';

/** How often the supervisor's monitors check the release log and the repository. */
export const MONITOR_INTERVAL_MS = 10_000;
/** How often the repository checks whether its timestamp needs renewing. */
const TIMESTAMP_REFRESH_MS = 60_000;

/** What the release half runs once it is up, and what the halves after it build on. */
export interface ReleaseHalf {
  readonly log: RunningLogServer;
  readonly witness: RunningWitnessServer;
  /** The supervisor's witness as a policy names it: a later half's log can be cosigned by it too. */
  readonly localWitness: LocalWitness;
  /** The release log's c2sp.org/tlog-policy, as written to paths.policy. */
  readonly policy: string;
  readonly assembly: RunningAssemblyServer;
  readonly repoUrl: string;
  readonly builder: BuilderIdentity;
  readonly supervisor: SupervisorIdentity;
  readonly supervisorTufKeys: SupervisorTufKeys;
  readonly monitor: RunningReleaseLogMonitor;
  readonly monitorPass: MonitorPass;
  readonly repoMonitor: RunningRepoMonitor;
  /** Findings of the repository monitor's first pass (0 when all is signed and approved). */
  readonly repoFindings: number;
  /** Undefined when the demo was skipped (no git on this machine). */
  readonly release: PublishedRelease | undefined;
  /** The agent's own product release; undefined when skipped (no git, or its build inputs missing). */
  readonly product: PublishedRelease | undefined;
  /** The vendor verdict list release the sites follow; undefined when the demo was skipped. */
  readonly verdicts: { readonly name: string; readonly source: string } | undefined;
  readonly trustBundle: { readonly url: string; readonly fingerprint: string };
}

/**
 * Brings the release half up. On first start the repository's root is
 * co-signed and a demo rules release goes through the whole flow: build,
 * review, rebuild, approval, release log, publication.
 */
export async function startReleaseHalf(
  ctx: StartContext,
  hooks: {
    /**
     * Called once the witness runs, before the trust bundle is drafted: the
     * data half starts its residency log there and hands back what endpoints
     * pin for telemetry (the bundle's optional residency field).
     */
    readonly residencyTrust?: (witness: LocalWitness) => Promise<ResidencyTrust>;
  } = {},
): Promise<ReleaseHalf> {
  const { opts, paths, closers, checkStop, say, io } = ctx;
  const firstStart = !existsSync(repoPaths(paths.repo).config);
  say(
    firstStart
      ? `start: first start in ${paths.data}: creating each role's keys and data directory`
      : `start: starting from ${paths.data}`,
  );

  // Keys, each in its role's directory; only public keys cross over.
  const { builder, supervising } = await pinEachOther(paths);
  const supervisor = supervising.identity;
  const supervisorTufKeys = await ensureSupervisorTufKeys(paths.supervisor);
  await writeIfChanged(paths.supervisorTufKeys, formatSupervisorKeysFile(supervisorTufKeys));
  const { verifierKey: logVkey } = await initDataDir({ dir: paths.log, origin: opts.origin });
  const witnessVkey = await initWitnessDir({ dir: paths.witness, name: opts.witnessName });
  await trustLogInWitness({ dir: paths.witness, vkey: logVkey });

  // The vendor's update repository; its root names the supervisor's TUF keys.
  // Created before the log starts: the log accepts adds from its key.
  if (firstStart) {
    say('vendor: creating the TUF repository (vendor keys, root v1 draft naming the supervisor)');
    await initRepository({
      dir: paths.repo,
      supervisorKeys: parseSupervisorKeysFile(await readFile(paths.supervisorTufKeys, 'utf8')),
      now: new Date(),
    });
  }
  // Caller keys (RFC 9421): who may write to which service.
  const repoKey = await readCallerKey(repositoryCallerKeyPath(paths.repo));
  const engineerKey = await ensureCallerKey(paths.engineerKey);
  const supervisorKey = await readCallerKey(join(paths.supervisor, SUPERVISOR_KEY_FILE));

  // The supervisor's witness, then the vendor's release log, which publishes
  // only checkpoints the witness cosigned.
  const witness = await startWitnessServer({ dir: paths.witness, listen: opts.witnessListen, io });
  closers.add(() => witness.close());
  const localWitness: LocalWitness = {
    url: witness.url,
    verifierKey: witnessVkey,
    dir: paths.witness,
  };
  // The log's own URL is known once it listens, so its line gets it then.
  const releaseLog: PolicyLog = { title: 'the release log', verifierKey: logVkey };
  await writeWitnessPolicy(paths.policy, releaseLog, localWitness);
  const log = await startLogServer({
    dir: paths.log,
    listen: opts.listen,
    witnessPolicy: paths.policy,
    callers: [caller('repository', repoKey, ROUTES.logAdd)],
    io,
  });
  closers.add(() => log.close());
  // c2sp.org/tlog-policy: "log <vkey> [<url>]", the URL endpoints fetch proofs from.
  const policy = await writeWitnessPolicy(
    paths.policy,
    { ...releaseLog, url: log.url },
    localWitness,
  );
  say(`vendor: release log at ${log.url}, witnessed by the supervisor at ${witness.url}`);

  // The vendor's assembly line.
  const assembly = await startAssemblyServer({
    dir: paths.assembly,
    listen: opts.assemblyListen,
    callers: [caller('release engineer', engineerKey, ROUTES.assemblyBuild)],
    io,
  });
  closers.add(() => assembly.close());
  // Closed before the assembly line: a stop cancels a running supervisor rebuild at once.
  closers.add(() => {
    supervising.cancelRebuilds();
    return Promise.resolve();
  });
  await writeIfChanged(paths.layoutKey, assembly.line.layoutKey.publicKeyPem);
  say(`vendor: assembly line at ${assembly.url}`);

  // The vendor's update repository (served below).
  const repo = new RepoService({
    dir: paths.repo,
    assemblyUrl: assembly.url,
    releaseLogUrl: log.url,
    layoutKeyPem: assembly.line.layoutKey.publicKeyPem,
    releaseLogFetch: signingFetch(repoKey),
  });
  const repoCallers = allowListOf([caller('repository operator', repoKey, ROUTES.repoPublish)]);
  io.stderr(formatCallers('repo', repoCallers));
  const repoApp = buildRepoServer({ service: repo, writers: { allowList: repoCallers } });
  closers.add(async () => {
    repo.stop();
    await repoApp.close();
  });
  const repoUrl = await listenOn(repoApp, parseListen(opts.repoListen));
  say(`vendor: update repository at ${repoUrl}`);
  checkStop();

  // Targets needs both organisations: the supervisor checks and co-signs a
  // pending targets draft (and migrates a repository of the old scheme).
  for (const line of await ensureTwoPartyTargets({
    repoDir: paths.repo,
    repoUrl,
    supervisorTufKeys,
  })) {
    say(line);
  }
  await ensureRootPublished({ repoDir: paths.repo, repoUrl, supervisorTufKeys, say });
  repo.startTimestampRefresh(TIMESTAMP_REFRESH_MS, (err) => {
    say(
      `repository: timestamp refresh failed: ${err instanceof Error ? err.message : String(err)}`,
    );
  });
  checkStop();

  if (supervising.sandbox.kind === 'none') {
    say(`supervisor: no sandbox (${supervising.sandbox.reason}); rebuilds run without isolation`);
  }
  // The demo needs git (the assembly line builds commits); without it the
  // services still run and the summary says how to get the demo.
  let release: PublishedRelease | undefined;
  let product: PublishedRelease | undefined;
  let verdicts: ReleaseHalf['verdicts'];
  if (gitInstalled()) {
    const demo = {
      assemblyUrl: assembly.url,
      repoUrl,
      repoDir: paths.repo,
      repo,
      supervisor: supervising,
      supervisorDir: paths.supervisor,
      supervisorKey: publicKeyFromPem(supervisor.publicKeyPem),
      supervisorTufKeys,
      engineerFetch: signingFetch(engineerKey),
      supervisorFetch: signingFetch(supervisorKey),
      say,
      checkStop,
    };
    await ensureDemoRelease(demo, {
      name: DEMO_RELEASE_NAME,
      source: () => ensureDemoSource(paths.demoSource),
      reviewNote: DEMO_RULES_REVIEW_NOTE,
    });
    checkStop();
    release = await publishedRelease(paths.repo, DEMO_RELEASE_NAME);
    if (release === undefined) {
      throw new CodedError(
        'START_DEMO_INCOMPLETE',
        `the repository lists no ${DEMO_RELEASE_NAME} release`,
      );
    }
    await writeIfChanged(paths.demoEntry, releaseLogEntryOf(release));
    // Then the agent itself, as a product release through the same flow.
    try {
      await ensureDemoRelease(demo, {
        name: PRODUCT_RELEASE_NAME,
        source: () => ensureProductSource(paths.productSource, say),
        reviewNote: DEMO_PRODUCT_REVIEW_NOTE,
      });
      product = await publishedRelease(paths.repo, PRODUCT_RELEASE_NAME);
    } catch (err) {
      if (!(err instanceof CodedError && err.code === 'START_PRODUCT_UNAVAILABLE')) throw err;
      say(`the agent's product release is skipped: ${err.message}`);
    }
    checkStop();
    // And the vendor verdict list the data sites serve, through the same flow.
    await ensureDemoRelease(demo, {
      name: DEMO_VERDICTS_NAME,
      source: () => ensureDemoVerdictsSource(paths.verdictsSource),
      reviewNote: DEMO_VERDICTS_REVIEW_NOTE,
    });
    verdicts = { name: DEMO_VERDICTS_NAME, source: normalizeSourceUri(paths.verdictsSource) };
    checkStop();
  } else {
    say('git is not installed: the demo release is skipped (install git and start again)');
  }

  // The endpoints' enrollment bundle, co-signed by both organisations' root keys.
  const residency = await hooks.residencyTrust?.(localWitness);
  const trustBundle = await publishTrustBundle(
    {
      repoDir: paths.repo,
      repoUrl,
      logUrl: log.url,
      witnessPolicy: policy,
      rulesName: DEMO_RELEASE_NAME,
      source: normalizeSourceUri(paths.demoSource),
      builder,
      supervisor: supervising,
      supervisorTufKeys,
      residency,
      supervisorResidency: await supervisorResidencyKeys(paths.data),
    },
    paths.trustBundle,
  );
  say(`vendor and supervisor: trust bundle at ${repoUrl}${TRUST_BUNDLE_PATH}`);

  // The supervisor's monitor: its first pass covers every entry so far.
  const monitor = await startReleaseLogMonitor({
    url: log.url,
    policy,
    supervisorDir: paths.supervisor,
    supervisorKey: publicKeyFromPem(supervisor.publicKeyPem),
    stateDir: paths.monitor,
    intervalMs: MONITOR_INTERVAL_MS,
    io,
  });
  closers.add(() => monitor.stop());
  const monitorPass = await monitor.firstPass;
  // And of the repository: every targets metadata co-signed, every target approved.
  const repoMonitor = await startRepoMonitor({
    repoUrl,
    supervisorDir: paths.supervisor,
    supervisorTufKeys,
    intervalMs: MONITOR_INTERVAL_MS,
    io,
  });
  closers.add(() => repoMonitor.stop());
  const repoFindings = (await repoMonitor.firstPass).findings.length;

  return {
    log,
    witness,
    localWitness,
    policy,
    assembly,
    repoUrl,
    builder,
    supervisor,
    supervisorTufKeys,
    monitor,
    monitorPass,
    repoMonitor,
    repoFindings,
    release,
    product,
    verdicts,
    trustBundle: { url: `${repoUrl}${TRUST_BUNDLE_PATH}`, fingerprint: trustBundle.fingerprint },
  };
}

/** Whether `git` runs here (the demo's source is a git repository). */
function gitInstalled(): boolean {
  return spawnSync('git', ['--version'], { stdio: 'ignore' }).status === 0;
}
