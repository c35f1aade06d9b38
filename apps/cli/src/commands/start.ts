// Over 500 lines: the bring-up of every role on one machine is one ordered sequence (each step needs the keys and URLs of the ones before); the demo source and the trust bundle are in ../start/.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { publicKeyFromPem } from '@glasshouse/attest';
import { CodedError } from '@glasshouse/errors';
import {
  RepoService,
  TRUST_BUNDLE_PATH,
  buildRepoServer,
  consistentTargetPath,
  ensureSupervisorTufKeys,
  formatSupervisorKeysFile,
  initRepository,
  parseSupervisorKeysFile,
  repoPaths,
  type SupervisorTufKeys,
} from '@glasshouse/distribution';
import {
  ASSEMBLY_CONFIG_FILE,
  SUPERVISOR_CONFIG_FILE,
  SUPERVISOR_KEY_FILE,
  initAssemblyDir,
  initSupervisorDir,
  normalizeSourceUri,
  openSupervisor,
  type BuilderIdentity,
  type Supervisor,
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
import { listenOn, parseListen, untilSignal, type Io } from '../io.js';
import {
  DEMO_RELEASE_NAME,
  ensureDemoRelease,
  ensureRootPublished,
  publishedDemoRelease,
  releaseLogEntryOf,
  type PublishedRelease,
} from '../start/demo-release.js';
import {
  startReleaseLogMonitor,
  type MonitorPass,
  type RunningReleaseLogMonitor,
} from '../start/release-log-monitor.js';
import { publishTrustBundle } from '../start/trust-bundle.js';
import { startAssemblyServer, type RunningAssemblyServer } from './assembly.js';
import { ensureTwoPartyTargets, repositoryCallerKeyPath } from './repo.js';
import { startRepoMonitor, type RunningRepoMonitor } from './supervisor.js';
import { initDataDir, startLogServer, type RunningLogServer } from './log.js';
import {
  initWitnessDir,
  startWitnessServer,
  trustLogInWitness,
  type RunningWitnessServer,
} from './witness.js';

/** The policy's name for the local witness (a tlog-policy name, not a key name). */
const POLICY_WITNESS_NAME = 'local-witness';
/** How often the supervisor's monitor checks the release log. */
const MONITOR_INTERVAL_MS = 10_000;
/** How often the repository checks whether its timestamp needs renewing. */
const TIMESTAMP_REFRESH_MS = 60_000;

interface StartOptions {
  data: string;
  listen: string;
  witnessListen: string;
  assemblyListen: string;
  repoListen: string;
  origin: string;
  witnessName: string;
}

/** Where each role keeps its files under --data: one directory per role, never shared. */
function startPaths(data: string) {
  const vendor = join(data, 'vendor');
  const supervisor = join(data, 'supervisor');
  return {
    data,
    vendor,
    log: join(vendor, 'log'),
    assembly: join(vendor, 'assembly'),
    repo: join(vendor, 'repo'),
    /** The vendor's release engineer's caller key (PKCS#8 PEM): it requests builds. */
    engineerKey: join(vendor, 'release-engineer.key'),
    /** The layout public key endpoints pin (PEM), handed out by the vendor. */
    layoutKey: join(vendor, 'layout-key.pem'),
    supervisor,
    witness: join(supervisor, 'witness'),
    monitor: join(supervisor, 'monitor'),
    /** The supervisor's TUF public keys, handed to the vendor for the repository's root. */
    supervisorTufKeys: join(supervisor, 'tuf-keys.json'),
    /** Public: the release log's key and its witness quorum, for everyone who verifies. */
    policy: join(data, 'witness-policy.txt'),
    /** The demo's source repository (public source both the vendor and the supervisor build). */
    demoSource: join(data, 'demo-source'),
    /** The demo release's release-log entry, rebuilt from its TUF targets. */
    demoEntry: join(data, 'demo-release-log-entry.json'),
    /** Public: what an endpoint pins (`agent init --trust`), also served by the repository. */
    trustBundle: join(data, 'trust-bundle.json'),
    /** Where the summary's walk-through puts an endpoint. */
    endpoint: join(data, 'endpoint'),
  };
}

type StartPaths = ReturnType<typeof startPaths>;

/** Everything `start` runs, once it is up. */
interface Running {
  readonly log: RunningLogServer;
  readonly witness: RunningWitnessServer;
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
  readonly trustBundle: { readonly url: string; readonly fingerprint: string };
}

/** Whether `git` runs here (the demo's source is a git repository). */
function gitInstalled(): boolean {
  return spawnSync('git', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** How often `start` under npm checks that npm is still there. */
const PARENT_CHECK_MS = 1000;

/**
 * Under `npm start` (the script execs node, so npm is the parent and
 * forwards SIGTERM/SIGINT), resolves when npm itself is gone without a
 * signal reaching node (npm killed with SIGKILL): the services stop rather
 * than keep the ports. Never resolves outside npm, where a parent exiting
 * (a shell that started `glasshouse start &`) is no reason to stop.
 */
function untilNpmGone(): Promise<void> {
  if (process.env.npm_lifecycle_event !== 'start') return new Promise(() => undefined);
  const parent = process.ppid;
  return new Promise((resolvePromise) => {
    const timer = setInterval(() => {
      if (process.ppid !== parent) {
        clearInterval(timer);
        resolvePromise();
      }
    }, PARENT_CHECK_MS);
    timer.unref();
  });
}

/** Things to close on the way out, most recent first. */
class Closers {
  readonly #closers: (() => Promise<void>)[] = [];

  add(close: () => Promise<void>): void {
    this.#closers.push(close);
  }

  async closeAll(io: Io): Promise<void> {
    while (this.#closers.length > 0) {
      const close = this.#closers.pop();
      try {
        await close?.();
      } catch (err) {
        // Keep closing the rest; say what failed.
        io.stderr(
          `start: while shutting down: ${err instanceof Error ? err.message : String(err)}\n`,
        );
      }
    }
  }
}

/** A stop was asked for (SIGINT/SIGTERM) while starting up. */
class StartInterrupted extends Error {
  override readonly name = 'StartInterrupted';
}

/**
 * `npm start`: Glasshouse on one machine, with embedded storage under
 * ./data (ignored by git). The vendor runs the release log, the assembly
 * line and the update repository; the supervisor runs the witness of the
 * release log and a monitor of it. Each role has its own directory and
 * keys and they talk over loopback HTTP only. On first start the
 * repository's root is co-signed and a demo rules release goes through the
 * whole flow: build, review, rebuild, approval, release log, publication.
 */
export function registerStartCommand(program: Command, io: Io): void {
  program
    .command('start')
    .description(
      "Start Glasshouse on this machine (embedded storage under ./data): the vendor's release log, " +
        "assembly line and update repository, the supervisor's witness and its monitors of the release log and the repository. " +
        'The first start publishes a demo rules release through the whole flow. Prints what runs ' +
        'where, commands to try, and a last line "ready <json>"',
    )
    .option('--data <dir>', 'data directory', 'data')
    .option('--listen <host:port>', 'address of the release log', '127.0.0.1:8480')
    .option('--witness-listen <host:port>', 'address of the witness', '127.0.0.1:8490')
    .option('--assembly-listen <host:port>', 'address of the assembly line', '127.0.0.1:8470')
    .option('--repo-listen <host:port>', 'address of the update repository', '127.0.0.1:8460')
    .option('--origin <origin>', 'origin of the log (first start only)', 'localhost/glasshouse/log')
    .option(
      '--witness-name <name>',
      'key name of the witness (first start only)',
      'localhost/glasshouse/witness',
    )
    .action(async (opts: StartOptions) => {
      // Every address is checked before anything is written.
      for (const listen of [
        opts.listen,
        opts.witnessListen,
        opts.assemblyListen,
        opts.repoListen,
      ]) {
        parseListen(listen);
      }
      const paths = startPaths(resolve(io.cwd, opts.data));
      let up = false;
      let stopping = false;
      const quitting = (signal: NodeJS.Signals): void => {
        io.stderr(`start: ${signal} again, quitting at once\n`);
      };
      const stopRequested = Promise.race([untilSignal(quitting), untilNpmGone()]).then(() => {
        stopping = true;
        if (!up) io.stderr('start: stopping after the current step (again to quit at once)\n');
      });
      const checkStop = (): void => {
        if (stopping) throw new StartInterrupted('stopped while starting');
      };
      const closers = new Closers();
      let running: Running;
      try {
        running = await bringUp(opts, paths, closers, checkStop, io);
      } catch (err) {
        await closers.closeAll(io);
        if (err instanceof StartInterrupted) return;
        throw err;
      }
      up = true;
      io.stdout(summary(running, paths, io.cwd));
      await stopRequested;
      io.stderr('start: shutting down\n');
      await closers.closeAll(io);
    });
}

async function bringUp(
  opts: StartOptions,
  paths: StartPaths,
  closers: Closers,
  checkStop: () => void,
  io: Io,
): Promise<Running> {
  const say = (line: string): void => {
    io.stderr(`${line}\n`);
  };
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
  // Rewritten on every start: the URLs follow the --*-listen options. The
  // log's own URL is known once it listens, so its line gets it then.
  const policyOf = (logUrl?: string): string =>
    [
      '# c2sp.org/tlog-policy of the release log, written by `glasshouse start` (rewritten on each start).',
      logUrl === undefined ? `log ${logVkey}` : `log ${logVkey} ${logUrl}`,
      `witness ${POLICY_WITNESS_NAME} ${witnessVkey} ${witness.url}`,
      `quorum ${POLICY_WITNESS_NAME}`,
      '',
    ].join('\n');
  await writeFile(paths.policy, policyOf());
  const log = await startLogServer({
    dir: paths.log,
    listen: opts.listen,
    witnessPolicy: paths.policy,
    callers: [caller('repository', repoKey, ROUTES.logAdd)],
    io,
  });
  closers.add(() => log.close());
  // c2sp.org/tlog-policy: "log <vkey> [<url>]", the URL endpoints fetch proofs from.
  const policy = policyOf(log.url);
  await writeFile(paths.policy, policy);
  say(`vendor: release log at ${log.url}, witnessed by the supervisor at ${witness.url}`);

  // The vendor's assembly line.
  const assembly = await startAssemblyServer({
    dir: paths.assembly,
    listen: opts.assemblyListen,
    callers: [caller('release engineer', engineerKey, ROUTES.assemblyBuild)],
    io,
  });
  closers.add(() => assembly.close());
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
  if (gitInstalled()) {
    await ensureDemoRelease({
      assemblyUrl: assembly.url,
      repoUrl,
      repoDir: paths.repo,
      repo,
      sourceDir: paths.demoSource,
      supervisor: supervising,
      supervisorDir: paths.supervisor,
      supervisorKey: publicKeyFromPem(supervisor.publicKeyPem),
      supervisorTufKeys,
      engineerFetch: signingFetch(engineerKey),
      supervisorFetch: signingFetch(supervisorKey),
      say,
      checkStop,
    });
    checkStop();
    release = await publishedDemoRelease(paths.repo);
    if (release === undefined) {
      throw new CodedError(
        'START_DEMO_INCOMPLETE',
        `the repository lists no ${DEMO_RELEASE_NAME} release`,
      );
    }
    await writeIfChanged(paths.demoEntry, releaseLogEntryOf(release));
  } else {
    say('git is not installed: the demo release is skipped (install git and start again)');
  }

  // The endpoints' enrollment bundle, co-signed by both organisations' root keys.
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
    trustBundle: { url: `${repoUrl}${TRUST_BUNDLE_PATH}`, fingerprint: trustBundle.fingerprint },
  };
}

/**
 * The vendor's assembly line and the supervisor, each with its own key,
 * pinned to each other's public key: the supervisor accepts provenance
 * only from the pinned builder key, the assembly line accepts approvals
 * only from the pinned supervisor key. A pin already in place is left
 * untouched.
 */
async function pinEachOther(
  paths: StartPaths,
): Promise<{ builder: BuilderIdentity; supervising: Supervisor }> {
  const builder = await initAssemblyDir({ dir: paths.assembly });
  const builderKeyid = publicKeyFromPem(builder.publicKeyPem).keyid;
  let supervising = existsSync(join(paths.supervisor, SUPERVISOR_CONFIG_FILE))
    ? await openSupervisor({ dir: paths.supervisor })
    : undefined;
  const pinned = supervising?.config.builders.find((b) => b.builderId === builder.builderId);
  if (
    supervising === undefined ||
    pinned === undefined ||
    publicKeyFromPem(pinned.publicKeyPem).keyid !== builderKeyid
  ) {
    await initSupervisorDir({
      dir: paths.supervisor,
      builder: { builderId: builder.builderId, publicKeyPem: builder.publicKeyPem },
    });
    supervising = await openSupervisor({ dir: paths.supervisor });
  }
  if ((await pinnedSupervisorKeyid(paths.assembly)) !== supervising.identity.keyid) {
    await initAssemblyDir({
      dir: paths.assembly,
      supervisorKeyPem: supervising.identity.publicKeyPem,
    });
  }
  return { builder, supervising };
}

/** The keyid of the supervisor key pinned in an assembly line's configuration, if any. */
async function pinnedSupervisorKeyid(assemblyDir: string): Promise<string | undefined> {
  const config = JSON.parse(await readFile(join(assemblyDir, ASSEMBLY_CONFIG_FILE), 'utf8')) as {
    supervisor?: { publicKeyPem?: unknown };
  };
  const pem = config.supervisor?.publicKeyPem;
  return typeof pem === 'string' ? publicKeyFromPem(pem).keyid : undefined;
}

/** Writes `content` unless the file already holds exactly it (a second start changes nothing). */
async function writeIfChanged(path: string, content: string | Uint8Array): Promise<void> {
  const bytes = typeof content === 'string' ? Buffer.from(content) : Buffer.from(content);
  if (existsSync(path) && (await readFile(path)).equals(bytes)) return;
  await writeFile(path, bytes);
}

function summary(r: Running, paths: StartPaths, cwd: string): string {
  const shown = (p: string): string => {
    const rel = relative(cwd, p);
    return rel === '' || rel.startsWith('..') ? p : `./${rel}`;
  };
  const { release } = r;
  const artifacts = release?.targets.filter((t) => t.custom.kind === 'artifact') ?? [];
  const receipt = release?.targets.find((t) => t.custom.kind === 'release-log-receipt');
  const logIndex = receipt === undefined ? undefined : logIndexOf(receipt.custom);
  const alerts =
    r.monitorPass.alerts === 0
      ? 'no alerts'
      : `${r.monitorPass.alerts} ALERT(S): see ${shown(r.monitor.alertsPath)}`;
  const lines = [
    'Glasshouse is running. Each role has its own keys and data directory; they talk over HTTP on loopback.',
    '',
    'vendor',
    `  release log       ${r.log.url}`,
    `    origin          ${r.log.origin}`,
    `    verifier key    ${r.log.verifierKey}`,
    `    data            ${shown(paths.log)}`,
    '                    publishes a checkpoint only once the witness cosigned it',
    `  assembly line     ${r.assembly.url}`,
    `    builder         ${r.builder.builderId} (key ${r.builder.keyid})`,
    `    layout key      ${shown(paths.layoutKey)} (key ${r.assembly.line.layoutKey.keyid})`,
    `    data            ${shown(paths.assembly)}`,
    `  repository        ${r.repoUrl}  (TUF: ${r.repoUrl}/metadata/, ${r.repoUrl}/targets/)`,
    `    trust root      ${r.repoUrl}/metadata/1.root.json (vendor and supervisor, threshold 2)`,
    '    targets         signed by the vendor and the supervisor (threshold 2)',
    `    data            ${shown(paths.repo)}`,
    'supervisor',
    `  witness           ${r.witness.url}/`,
    `    verifier key    ${r.witness.verifierKey}`,
    `    data            ${shown(paths.witness)}`,
    `  monitor           the release log every ${MONITOR_INTERVAL_MS / 1000} s: every entry must be a release it approved`,
    `    verified        size ${r.monitorPass.size}, ${alerts}`,
    `    alerts          ${shown(r.monitor.alertsPath)} and stderr`,
    `  repo monitor      the repository every ${MONITOR_INTERVAL_MS / 1000} s: targets and releases co-signed, every target approved`,
    `    verified        ${r.repoFindings === 0 ? 'no findings' : `${r.repoFindings} FINDING(S): see ${shown(r.repoMonitor.alertsPath)}`}`,
    `  keys              approvals ${r.supervisor.keyid}, TUF root ${r.supervisorTufKeys.root.keyid}, TUF release ${r.supervisorTufKeys.release.keyid}`,
    `  data              ${shown(paths.supervisor)}`,
    `witness policy      ${shown(paths.policy)}  (quorum: ${POLICY_WITNESS_NAME})`,
    `trust bundle        ${r.trustBundle.url}`,
    `  file              ${shown(paths.trustBundle)}`,
    `  sha256            ${r.trustBundle.fingerprint}`,
    '                    what an endpoint pins: TUF root, witness policy, supervisor and builder keys',
    '',
    ...(release === undefined
      ? ['demo release        skipped: git is not installed (install git and start again)']
      : [
          `demo release        ${release.name} ${release.version}, release ${release.releaseId}${
            logIndex === undefined ? '' : `, release-log index ${logIndex}`
          }`,
          `  source            ${shown(paths.demoSource)}`,
          ...artifacts.map((t) => `  artifact          ${t.name}  sha256 ${t.sha256}`),
          `  targets           ${release.targets.length} (artifacts, attestations, release-log receipt)`,
        ]),
    '',
    'Try it:',
    ...(release === undefined
      ? []
      : [
          '  # the release as an endpoint checks it: layout, builder and supervisor links, artifacts',
          `  npx glasshouse release verify ${release.releaseId} --assembly ${r.assembly.url} --layout-key ${shown(paths.layoutKey)}`,
        ]),
    '  # the TUF metadata a tuf-js client starts from (pinning metadata/1.root.json)',
    `  curl ${r.repoUrl}/metadata/timestamp.json`,
    '  # the release log checkpoint, cosigned by the witness',
    `  curl ${r.log.url}checkpoint`,
  ];
  if (receipt !== undefined) {
    lines.push(
      '  # the release-log receipt, checked offline against the witness policy, with the entry rebuilt from the TUF targets',
      `  curl -s ${r.repoUrl}/targets/${consistentTargetPath(receipt.name, receipt.sha256)} -o /tmp/release.tlog-proof`,
      `  npx glasshouse log verify --policy ${shown(paths.policy)} --entry ${shown(paths.demoEntry)} /tmp/release.tlog-proof`,
    );
  }
  lines.push(
    '  # an entry the supervisor never approved: its monitor alerts within seconds (the log keeps it for good)',
    `  echo bogus > /tmp/bogus && npx glasshouse log add --url ${r.log.url} --key ${shown(join(paths.log, 'log.key'))} /tmp/bogus`,
  );
  if (release !== undefined) {
    const endpoint = shown(paths.endpoint);
    lines.push(
      '  # protect an endpoint: pin the trust bundle (signed by the vendor and the supervisor), install the',
      '  # supervised rules, scan (the demo samples include the EICAR test file: exit 1, detections listed)',
      `  npx glasshouse agent init --dir ${endpoint} --trust ${r.trustBundle.url} --fingerprint ${r.trustBundle.fingerprint}`,
      `  npx glasshouse agent update --dir ${endpoint}`,
      `  npx glasshouse agent scan --dir ${endpoint} ${shown(join(paths.demoSource, 'samples'))}`,
    );
  }
  lines.push('', 'Ctrl-C stops it.', '');
  const ready = {
    logUrl: r.log.url,
    witnessUrl: r.witness.url,
    assemblyUrl: r.assembly.url,
    repoUrl: r.repoUrl,
    releaseId: release?.releaseId ?? null,
    targets: release?.targets.map((t) => t.name) ?? [],
    policyPath: paths.policy,
    layoutKeyPath: paths.layoutKey,
    entryPath: paths.demoEntry,
    trustBundleUrl: r.trustBundle.url,
    trustBundleFingerprint: r.trustBundle.fingerprint,
    trustBundlePath: paths.trustBundle,
    dataDir: paths.data,
  };
  lines.push(`ready ${JSON.stringify(ready)}`, '');
  return lines.join('\n');
}

function logIndexOf(custom: unknown): string | undefined {
  const index = (custom as { releaseLog?: { index?: unknown } }).releaseLog?.index;
  return typeof index === 'string' ? index : undefined;
}
