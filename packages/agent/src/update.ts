/**
 * One update, failing closed at the first failed check:
 *
 *  1. TUF through tuf-js: root, timestamp, snapshot, targets, and the
 *     `releases` role that needs both the vendor's and the supervisor's
 *     signature (TUF 5.3-5.6); the newest version of the rules name;
 *  2. the release log: the receipt shows the entry, rebuilt from the TUF
 *     targets, in a checkpoint meeting the witness quorum, consistent with
 *     the last checkpoint this agent saw (which is then remembered);
 *  3. the supervisor's VSA (PASSED, this digest, the pinned verifier) and
 *     the vendor's provenance (the pinned builder and source);
 *  4. install: stage the bundle in its slot, self-test it there, switch.
 *
 * Any failure leaves the active rules as they were and is recorded with its
 * code in the state (`agent status` shows it).
 *
 * The state is read once and written once per update, at its end, durably
 * and atomically: the checkpoint remembered, the slot staged when its
 * self-test failed, and the result. A crash before that write leaves the
 * state of the previous update; the active link (switched atomically) is
 * what is installed, and the checkpoint is seen again with the next release.
 */
import { basename } from 'node:path';
import {
  encodeReleaseLogEntry,
  RELEASE_LOG_RECEIPT_NAME,
  rulesBundleName,
} from '@glasshouse/release-format';
import {
  requireScanTimeout,
  selectYaraEngine,
  type EngineChoice,
  type SelfTestResult,
  type YaraEngine,
} from '@glasshouse/bundle';
import { parseTlogProof } from '@glasshouse/tlog';
import { verifySupervision } from './attestations.js';
import { loadAgent, type Agent } from './config.js';
import { AgentError } from './errors.js';
import { activateSlot, activeSlot, pruneSlots, slotRelease, stageAndSelfTest } from './install.js';
import {
  checkConsistency,
  httpConsistencyProofs,
  seenCheckpoint,
  verifyReleaseReceipt,
} from './release-log.js';
import {
  readState,
  writeState,
  type AgentState,
  type ReleaseRef,
  type SeenCheckpoint,
  type StagedSlot,
  type UpdateResult,
} from './state.js';
import { checkSupervisorKeys, diagnoseReleasesSignatures } from './supervisor-keys.js';
import { TufClient, type VerifiedTarget } from './tuf.js';
import { compareVersions, newestVersion } from './versions.js';

/** Most bytes of a rules bundle the agent downloads. */
export const MAX_BUNDLE_BYTES = 512 * 1024 * 1024;
/** Most bytes of an attestation (the assembly line's own cap). */
export const MAX_ATTESTATION_BYTES = 4 * 1024 * 1024;
/** Most bytes of a release-log receipt (c2sp.org/tlog-proof, tlog's default cap). */
export const MAX_RECEIPT_BYTES = 64 * 1024;

export interface UpdateOptions {
  readonly dir: string;
  /** For consistency proofs from the release log; default the global fetch. */
  readonly fetch?: typeof fetch;
  readonly onProgress?: (message: string) => void;
  /** The YARA-X build of the self-test; default `auto` (native where it loads). */
  readonly engine?: EngineChoice;
  /**
   * Self-test with an engine that cannot time out a scan (the WebAssembly
   * fallback). Default false: the update fails with `AGENT_ENGINE_REFUSED`.
   */
  readonly allowEngineWithoutTimeout?: boolean;
  readonly now?: () => Date;
}

export type UpdateOutcome =
  | {
      readonly status: 'installed';
      readonly release: ReleaseRef;
      readonly slot: string;
      readonly previousSlot: string | undefined;
      readonly checkpoint: SeenCheckpoint;
      readonly selfTestCases: number;
      /** The engine that ran the self-test, and whether it is the version the build tested with. */
      readonly selfTestEngine: SelfTestResult['engine'];
      readonly sameEngineVersion: boolean;
      readonly builtWith: string | undefined;
    }
  | { readonly status: 'up-to-date'; readonly version: string };

/** What one update changes in the state besides its result, recorded as it goes. */
export interface StateChanges {
  lastCheckpoint?: SeenCheckpoint;
  /** Set when a staged slot failed its self-test; cleared (set to undefined) by an install. */
  staged?: StagedSlot | undefined;
}

/** Runs one update of DIR (see the module comment). Throws the first failure's AgentError. */
export async function updateAgent(options: UpdateOptions): Promise<UpdateOutcome> {
  const agent = await loadAgent(options.dir);
  const now = options.now ?? (() => new Date());
  const previous = await readState(agent.paths);
  const changes: StateChanges = {};
  let outcome: UpdateOutcome;
  let lastUpdate: UpdateResult;
  try {
    outcome = await runUpdate(agent, options, previous, changes);
    lastUpdate =
      outcome.status === 'installed'
        ? {
            result: 'installed',
            at: now().toISOString(),
            release: outcome.release,
            slot: outcome.slot,
          }
        : { result: 'up-to-date', at: now().toISOString(), version: outcome.version };
  } catch (err) {
    const coded =
      err instanceof AgentError
        ? err
        : new AgentError('AGENT_INSTALL_FAILED', 'the update failed', { cause: err });
    await writeState(agent.paths, {
      ...previous,
      ...changes,
      lastUpdate: {
        result: 'refused',
        at: now().toISOString(),
        code: coded.code,
        message: coded.message,
        version: (coded.evidence?.version as string | undefined) ?? undefined,
      },
    });
    throw coded;
  }
  await writeState(agent.paths, { ...previous, ...changes, lastUpdate });
  return outcome;
}

/**
 * What steps 1-3 need to know of one kind of release (rules, product): the
 * target prefix, the source its provenance must name, the version installed
 * now, and which artifacts of a release the VSA and provenance must cover.
 */
export interface ReleaseKind {
  /** `<name>/<version>/…` in the releases role. */
  readonly name: string;
  /** The pinned source repository of this kind. */
  readonly source: string;
  readonly installedVersion: string | undefined;
  /**
   * Whether a release older than the installed one may be installed; its
   * targets are the evidence (default: never).
   */
  readonly allowsDowngrade?: (release: ReleaseTargets) => boolean;
  /** The artifacts to install, each checked against the VSA and the provenance. */
  readonly artifacts: (release: ReleaseTargets, version: string) => readonly VerifiedTarget[];
}

/** A release that passed steps 1-3, ready to install. */
export type VerifiedRelease =
  | { readonly status: 'up-to-date'; readonly version: string }
  | {
      readonly status: 'verified';
      readonly version: string;
      readonly release: ReleaseTargets;
      /** The artifacts `kind.artifacts` chose, in its order. */
      readonly artifacts: readonly VerifiedTarget[];
      readonly checkpoint: SeenCheckpoint;
      /** Older than the installed version: allowed by `kind.allowsDowngrade`. */
      readonly downgrade: boolean;
      readonly tuf: TufClient;
    };

/**
 * Steps 1-3 for one kind of release: the newest version in TUF, its
 * release-log receipt and consistency, the VSA and the provenance of each
 * artifact to install. Records in `changes` what the state keeps.
 */
export async function verifyNewestRelease(
  agent: Agent,
  options: Pick<UpdateOptions, 'fetch' | 'onProgress'>,
  previous: AgentState,
  changes: StateChanges,
  kind: ReleaseKind,
): Promise<VerifiedRelease> {
  const { config, paths } = agent;
  const progress = options.onProgress ?? (() => undefined);
  const tuf = new TufClient({
    metadataDir: paths.tufMetadata,
    downloadDir: paths.tufDownloads,
    repoUrl: config.repoUrl,
  });

  // 1. TUF.
  await tuf.refresh();
  if (config.supervisorTufKeys !== undefined) {
    checkSupervisorKeys(
      await tuf.trusted('root'),
      await tuf.trusted('targets'),
      config.supervisorTufKeys,
    );
  }
  let names: string[];
  try {
    names = await tuf.releaseTargetNames(kind.name);
  } catch (err) {
    if (err instanceof AgentError && err.code === 'AGENT_TUF_SIGNATURES') {
      throw await diagnoseReleasesSignatures(err, {
        metadataDir: paths.tufMetadata,
        repoUrl: config.repoUrl,
        supervisorRelease: config.supervisorTufKeys?.release,
      });
    }
    throw err;
  }
  progress('TUF: metadata verified (releases signed by the vendor and the supervisor)');
  const versions = new Set(
    names
      .map((n) => n.split('/'))
      .flatMap((parts) => (parts.length >= 3 && parts[1] ? [parts[1]] : [])),
  );
  const version = newestVersion(versions);
  if (version === undefined) {
    throw new AgentError('AGENT_NO_RELEASE', `the repository has no release of ${kind.name}`);
  }
  const installed = kind.installedVersion;
  const order = installed === undefined ? 1 : compareVersions(version, installed);
  if (order === 0) return { status: 'up-to-date', version };
  const release = await releaseTargets(tuf, kind.name, version, names);
  if (order < 0 && kind.allowsDowngrade?.(release) !== true) {
    // Tuf-js refuses older metadata; this also holds if its state was lost.
    throw new AgentError(
      'AGENT_RELEASE_ROLLBACK',
      `the newest release ${version} is older than the installed ${installed}`,
      { evidence: { version, active: installed } },
    );
  }
  progress(`release ${kind.name} ${version} (${release.releaseId})`);

  // 2. The release log.
  const receipt = await tuf.download(release.receipt, MAX_RECEIPT_BYTES);
  const entry = encodeReleaseLogEntry({
    releaseId: release.releaseId,
    name: kind.name,
    version,
    targets: release.artifacts.map((a) => ({ name: a.name, sha256: a.sha256 })),
    provenance: { sha256: release.provenance.sha256 },
    vsa: { sha256: release.vsa.sha256 },
    approval: { sha256: release.approval.sha256 },
  });
  const verified = verifyReleaseReceipt(receipt, entry, agent.policy);
  const fresh = seenCheckpoint(verified.checkpoint, parseTlogProof(receipt).checkpoint);
  const remembered = await checkConsistency(
    changes.lastCheckpoint ?? previous.lastCheckpoint,
    fresh,
    httpConsistencyProofs(config.logUrl, options.fetch),
  );
  // Remembered even if a later step refuses the release.
  if (remembered !== (changes.lastCheckpoint ?? previous.lastCheckpoint)) {
    changes.lastCheckpoint = remembered;
  }
  progress(
    `release log: entry ${verified.index} in checkpoint ${verified.checkpoint.size} cosigned by ${verified.cosigners.join(', ')}`,
  );

  // 3. The supervisor's VSA and the vendor's provenance, for each artifact installed.
  const artifacts = kind.artifacts(release, version);
  const evidence = {
    vsa: await tuf.download(release.vsa, MAX_ATTESTATION_BYTES),
    provenance: await tuf.download(release.provenance, MAX_ATTESTATION_BYTES),
  };
  for (const artifact of artifacts) {
    verifySupervision({ name: basename(artifact.name), sha256: artifact.sha256 }, evidence, {
      supervisorKey: agent.supervisorKey,
      verifierId: config.supervisor.verifierId,
      builderKey: agent.builderKey,
      builderId: config.builder.builderId,
      source: kind.source,
    });
  }
  progress(
    'supervision: VSA PASSED for this digest; provenance from the pinned builder and source',
  );
  return {
    status: 'verified',
    version,
    release,
    artifacts,
    checkpoint: remembered,
    downgrade: order < 0,
    tuf,
  };
}

/** Steps 1-4 for the rules; records in `changes` what the state keeps of them. */
async function runUpdate(
  agent: Agent,
  options: UpdateOptions,
  previous: AgentState,
  changes: StateChanges,
): Promise<UpdateOutcome> {
  const { config, paths } = agent;
  const progress = options.onProgress ?? (() => undefined);
  const current = await activeSlot(paths);
  const active = current === undefined ? undefined : await slotRelease(paths, current);
  const verified = await verifyNewestRelease(agent, options, previous, changes, {
    name: config.rulesName,
    source: config.source,
    installedVersion: active?.version,
    artifacts: (release, version) => {
      const bundle =
        release.artifacts.length === 1
          ? release.artifacts[0]
          : release.artifacts.find(
              (a) =>
                a.name ===
                `${config.rulesName}/${version}/${rulesBundleName({ name: config.rulesName, version })}`,
            );
      if (bundle === undefined) {
        throw new AgentError(
          'AGENT_RELEASE_INCOMPLETE',
          `${config.rulesName} ${version}: no rules bundle among its artifacts`,
          { evidence: { version } },
        );
      }
      return [bundle];
    },
  });
  if (verified.status === 'up-to-date') return verified;
  const { version, release, tuf } = verified;
  const [bundle] = verified.artifacts;
  if (bundle === undefined) throw new AgentError('AGENT_RELEASE_INCOMPLETE', 'no bundle');

  // 4. Install.
  const ref: ReleaseRef = {
    name: config.rulesName,
    version,
    releaseId: release.releaseId,
    sha256: bundle.sha256,
  };
  const engine = selfTestEngine(options, progress);
  const bytes = await tuf.download(bundle, MAX_BUNDLE_BYTES);
  // The self-test's compile starts from the verified bundle while the slot is written.
  const { slot, selfTest: testing } = await stageAndSelfTest(paths, ref, bytes, engine);
  let selfTest: SelfTestResult;
  try {
    selfTest = await testing;
  } catch (err) {
    const reason = err instanceof AgentError ? err.code : 'AGENT_INSTALL_FAILED';
    changes.staged = { slot, release: ref, reason };
    throw err;
  }
  await activateSlot(paths, slot);
  await pruneSlots(paths, current === undefined ? [slot] : [slot, current]);
  changes.staged = undefined;
  const { cases } = selfTest;
  const tested = `${selfTest.engine.name} ${selfTest.engine.version}`;
  progress(
    selfTest.sameEngineVersion
      ? `self-test: ${cases} cases passed with ${tested} (${selfTest.engine.package}), the version the build tested with`
      : `self-test: ${cases} cases passed with ${tested} (${selfTest.engine.package}); the build tested with ${selfTest.builtWith ?? 'an unrecorded version'}: NOT the same engine version`,
  );
  progress(`installed ${slot} (self-test: ${cases} cases passed)`);
  return {
    status: 'installed',
    release: ref,
    slot,
    previousSlot: current,
    checkpoint: verified.checkpoint,
    selfTestCases: cases,
    selfTestEngine: selfTest.engine,
    sameEngineVersion: selfTest.sameEngineVersion,
    builtWith: selfTest.builtWith,
  };
}

/** The engine of the self-test: said once when it is the fallback, refused without a timeout unless allowed. */
function selfTestEngine(options: UpdateOptions, progress: (message: string) => void): YaraEngine {
  try {
    const { engine, notice } = selectYaraEngine(options.engine ?? 'auto');
    if (notice !== undefined) progress(notice);
    requireScanTimeout(engine, options.allowEngineWithoutTimeout === true);
    return engine;
  } catch (cause) {
    throw new AgentError('AGENT_ENGINE_REFUSED', 'no usable YARA engine for the self-test', {
      cause,
    });
  }
}

export interface ReleaseTargets {
  readonly releaseId: string;
  readonly artifacts: VerifiedTarget[];
  readonly provenance: VerifiedTarget;
  readonly vsa: VerifiedTarget;
  readonly approval: VerifiedTarget;
  readonly receipt: VerifiedTarget;
}

/**
 * The targets of one release, by the `custom` the repository service
 * writes (distribution README): one release id throughout, exactly one
 * provenance, VSA and approval, the receipt, and at least one artifact.
 */
async function releaseTargets(
  tuf: TufClient,
  rulesName: string,
  version: string,
  names: readonly string[],
): Promise<ReleaseTargets> {
  const prefix = `${rulesName}/${version}/`;
  const incomplete = (message: string): AgentError =>
    new AgentError('AGENT_RELEASE_INCOMPLETE', `${rulesName} ${version}: ${message}`, {
      evidence: { version },
    });
  const targets: VerifiedTarget[] = [];
  for (const name of names.filter((n) => n.startsWith(prefix)))
    targets.push(await tuf.target(name));
  const ids = new Set(targets.map((t) => t.custom.releaseId));
  const [releaseId] = ids;
  if (ids.size !== 1 || typeof releaseId !== 'string' || releaseId === '') {
    throw incomplete('its targets do not name one release id');
  }
  const artifacts = targets.filter((t) => t.custom.kind === 'artifact');
  const one = (attestation: string): VerifiedTarget => {
    const found = targets.filter(
      (t) => t.custom.kind === 'attestation' && t.custom.attestation === attestation,
    );
    if (found.length !== 1 || found[0] === undefined) {
      throw incomplete(`it has ${found.length} ${attestation} attestations, not one`);
    }
    return found[0];
  };
  const receipt = targets.find(
    (t) =>
      t.name === `${prefix}${RELEASE_LOG_RECEIPT_NAME}` && t.custom.kind === 'release-log-receipt',
  );
  if (receipt === undefined) {
    throw new AgentError(
      'AGENT_LOG_ENTRY_MISSING',
      `${rulesName} ${version} has no release-log receipt`,
      {
        evidence: { version },
      },
    );
  }
  if (artifacts.length === 0) throw incomplete('it has no artifacts');
  return {
    releaseId,
    artifacts,
    provenance: one('provenance'),
    vsa: one('vsa'),
    approval: one('approval'),
    receipt,
  };
}
