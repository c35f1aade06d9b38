/**
 * A whole supervised distribution on one machine for the agent's tests:
 *
 * - the vendor's TUF repository (`@glasshouse/distribution`), root v1 signed
 *   by the vendor and the supervisor, served by a static HTTP server on
 *   loopback that a test can make lie (`override`);
 * - the release log (`@glasshouse/log` on SQLite, its own HTTP API) whose
 *   checkpoints are cosigned by a witness before they are published. The
 *   test holds the witness's key, so that it can also play a witness that
 *   colludes with a forked log; the log is reached through a switch so a
 *   test can show the agent another log under the same URL;
 * - releases made with the same functions as the assembly line and the
 *   supervisor (a real rules bundle, SLSA provenance signed by the builder
 *   key, the supervisor's VSA and approval), logged, and published as
 *   targets signed by both organisations — or, for the attacks, not.
 */
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetadataKind, type Metadata, type Targets } from '@tufjs/models';
import type { FastifyInstance } from 'fastify';
import {
  generateSigningKey,
  publicKeyToPem,
  serializeEnvelope,
  type SigningKey,
} from '@glasshouse/attest';
import {
  addReleasesSignature,
  addRootSignature,
  buildSnapshot,
  buildTimestamp,
  expiresAfter,
  generateTufKey,
  initRepository,
  loadTufKey,
  metaFileFor,
  parseMetadataBytes,
  parseMetadataJson,
  publishRelease,
  repoPaths,
  rootDraft,
  serializeMetadata,
  signDraft,
  signMetadata,
  type TufSigningKey,
} from '@glasshouse/distribution';
import { encodeReleaseLogEntry } from '@glasshouse/release-format';
import { buildServer, initLog, openLog, openSqliteStorage, type Log } from '@glasshouse/log';
import {
  approvalStatement,
  buildRulesBundle,
  newReleaseId,
  parseRecipe,
  rebuildVsaStatement,
  signProvenance,
  signSupervisorStatement,
  type BuiltArtifact,
  type RulesRecipe,
} from '@glasshouse/release';
import { cosignCheckpoint, generateCosignerKey, generateSignerKey } from '@glasshouse/tlog';
import { initAgent, type Agent } from '../src/index.js';
import { FIXED_EPOCH, RULES_TESTDATA } from '../../release/test/assembly-fixtures.js';

export const RULES = 'demo-rules';
export const BUILDER_ID = 'https://vendor.example.org/assembly/builder';
export const VERIFIER_ID = 'https://supervisor.example.org/rebuilder';
export const SOURCE = 'https://git.vendor.example.org/rules.git';
export const COMMIT = 'a'.repeat(40);
export const LOG_ORIGIN = 'vendor.example.org/release-log';
const DAY = 86_400;

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

// ---------------------------------------------------------------------------
// rules bundles (built once per version)

const bundles = new Map<string, Promise<Uint8Array>>();

/** The demo rules (packages/release/testdata/rules) built as `version`. */
export function rulesBundle(version: string): Promise<Uint8Array> {
  let bundle = bundles.get(version);
  if (bundle === undefined) {
    bundle = (async () => {
      const recipe = parseRecipe(await readFile(join(RULES_TESTDATA, 'glasshouse-recipe.json')));
      const built = await buildRulesBundle({
        sourceDir: RULES_TESTDATA,
        recipe: { ...(recipe as RulesRecipe), name: RULES, version },
        sourceDateEpoch: FIXED_EPOCH,
        debianYara: 'off',
      });
      return built.bundle;
    })();
    bundles.set(version, bundle);
  }
  return bundle;
}

/** Where a target's bytes are stored and served: `dir/<sha256>.basename` (TUF 5.7.3). */
export function storedName(target: string, bytes: Uint8Array): string {
  return target.replace(/[^/]+$/, (base) => `${sha256(bytes)}.${base}`);
}

// ---------------------------------------------------------------------------
// the world

export interface Release {
  readonly version: string;
  readonly releaseId: string;
  readonly bundle: Uint8Array;
  readonly bundleTarget: string;
  readonly receipt: string;
  readonly logIndex: bigint;
}

/** What a test may change in a release before it is published. */
export interface ReleaseTweaks {
  /** The bundle's bytes (default: the demo rules built as this version). */
  bundle?: Uint8Array;
  /** The artifacts the VSA names (default: the bundle). */
  vsaSubjects?: BuiltArtifact[];
  /** Rewrites the receipt (after logging). */
  receipt?: (receipt: string) => string;
  /** Skip the release log: the receipt is this instead. */
  unloggedReceipt?: string;
  /** Whose release keys sign the releases metadata. Default both. */
  signers?: 'both' | 'vendor' | 'supervisor';
  /** Append the entry to this log instead (a fork). */
  log?: TestLog;
  /** Another release name (a product); default the demo rules. */
  name?: string;
  /** The source the provenance and the VSA name; default SOURCE. */
  source?: string;
  /** The release's artifacts (file name and bytes) instead of the rules bundle. */
  artifacts?: { name: string; bytes: Uint8Array }[];
  /** Extra `custom` fields of the artifact targets (e.g. a rollback mark). */
  artifactCustom?: Record<string, unknown>;
}

export interface TestLog {
  readonly log: Log;
  readonly url: string;
  close(): Promise<void>;
}

export interface World {
  readonly work: string;
  readonly repoDir: string;
  readonly repoUrl: string;
  readonly supervisorTuf: { readonly root: TufSigningKey; readonly release: TufSigningKey };
  readonly builderKey: SigningKey;
  readonly supervisorKey: SigningKey;
  readonly log: TestLog;
  readonly logSignerKey: string;
  readonly witnessSignerKey: string;
  /** The c2sp.org/tlog-policy the agent pins. */
  readonly policy: string;
  /** Serve `bytes` at `path` (e.g. `metadata/timestamp.json`) instead of the file. */
  override(path: string, bytes: Uint8Array | undefined): void;
  /** Show the agent another log at the release log's URL. */
  switchLog(to: TestLog): void;
  /** A second log with the release log's key and witness: a fork, cosigned. */
  forkLog(): Promise<TestLog>;
  /** Makes, logs and publishes a release of the demo rules. */
  publish(version: string, tweaks?: ReleaseTweaks): Promise<Release>;
  /**
   * Takes every target under `prefix` out of the releases role (a new
   * version signed by both organisations): what the vendor and the
   * supervisor do to withdraw a release.
   */
  withdraw(prefix: string): Promise<void>;
  /** An agent directory initialised against this world, following a product when named. */
  newAgent(product?: { name: string; source: string }): Promise<Agent>;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const work = await mkdtemp(join(tmpdir(), 'glasshouse-agent-'));
  const closers: (() => Promise<void>)[] = [];
  const repoDir = join(work, 'repo');
  const supervisorTuf = { root: generateTufKey(), release: generateTufKey() };
  await initRepository({
    dir: repoDir,
    supervisorKeys: {
      root: supervisorTuf.root.publicKey,
      release: supervisorTuf.release.publicKey,
    },
    now: new Date(),
  });
  await addRootSignature(
    repoDir,
    signDraft(await rootDraft(repoDir), supervisorTuf.root),
    new Date(),
  );

  const overrides = new Map<string, Uint8Array>();
  const repoUrl = await serveStatic(repoDir, overrides, closers);

  const logKeys = generateSignerKey(LOG_ORIGIN);
  const witnessKeys = generateCosignerKey('supervisor.example.org/witness');
  const makeLog = async (): Promise<TestLog> => {
    const dir = await mkdtemp(join(work, 'log-'));
    const storage = await openSqliteStorage({ dir });
    await initLog({ origin: LOG_ORIGIN, signerKey: logKeys.signerKey, storage });
    const log = await openLog({
      storage,
      signerKey: logKeys.signerKey,
      sequencer: { batchDelayMs: 5 },
      integrator: {
        intervalMs: 20,
        // The witness cosigns every checkpoint before it is published. c2sp.org/tlog-cosignature
        publish: (note) =>
          Promise.resolve(
            note +
              cosignCheckpoint(
                note.slice(0, note.indexOf('\n\n') + 1),
                witnessKeys.signerKey,
                Math.floor(Date.now() / 1000),
              ),
          ),
      },
    });
    const app: FastifyInstance = buildServer({ log });
    const url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/`;
    const close = async (): Promise<void> => {
      await app.close();
      await log.close();
      await storage.close();
    };
    closers.push(close);
    return { log, url, close };
  };
  const log = await makeLog();
  let upstream = log.url;
  const logUrl = await serveSwitch(() => upstream, closers);
  const policy = [
    `log ${logKeys.verifierKey} ${logUrl}`,
    `witness w1 ${witnessKeys.verifierKey}`,
    'quorum w1',
    '',
  ].join('\n');

  const builderKey = generateSigningKey();
  const supervisorKey = generateSigningKey();

  const publish = async (version: string, tweaks: ReleaseTweaks = {}): Promise<Release> => {
    const releaseId = newReleaseId(new Date());
    const name = tweaks.name ?? RULES;
    const source = tweaks.source ?? SOURCE;
    const files = tweaks.artifacts ?? [
      { name: `${RULES}-${version}.tar`, bytes: tweaks.bundle ?? (await rulesBundle(version)) },
    ];
    const artifacts: BuiltArtifact[] = files.map((f) => ({
      name: f.name,
      sha256: sha256(f.bytes),
      size: f.bytes.length,
    }));
    const [artifact] = artifacts;
    const bundle = files[0]!.bytes;
    if (artifact === undefined) throw new Error('a release needs an artifact');
    const recipeBytes = await readFile(join(RULES_TESTDATA, 'glasshouse-recipe.json'));
    const facts = {
      id: releaseId,
      name,
      version,
      source,
      commit: COMMIT,
      artifacts,
    };
    const provenance = utf8(
      serializeEnvelope(
        signProvenance(
          {
            releaseId,
            builderId: BUILDER_ID,
            source: { uri: source, commit: COMMIT },
            recipe: { ...(parseRecipe(recipeBytes) as RulesRecipe), name, version },
            recipeFile: { path: 'glasshouse-recipe.json', sha256: sha256(recipeBytes) },
            sourceDateEpoch: FIXED_EPOCH,
            artifacts,
            isolated: true,
            sandbox: { kind: 'none' },
            engines: { 'yara-x': '1.0.0' },
            nodeVersion: process.version,
            startedOn: new Date(),
            finishedOn: new Date(),
          },
          builderKey,
        ),
      ),
    );
    const policyOfSupervisor = { requireReview: false, reviewers: [] };
    const vsa = utf8(
      serializeEnvelope(
        signSupervisorStatement(
          rebuildVsaStatement({
            release: { ...facts, artifacts: tweaks.vsaSubjects ?? artifacts },
            verifierId: VERIFIER_ID,
            timeVerified: new Date(),
            policy: policyOfSupervisor,
            inputAttestations: [{ name: 'provenance', digest: { sha256: sha256(provenance) } }],
          }),
          supervisorKey,
        ),
      ),
    );
    const approval = utf8(
      serializeEnvelope(
        signSupervisorStatement(
          approvalStatement({
            release: facts,
            verifierId: VERIFIER_ID,
            approvedAt: new Date(),
            policy: policyOfSupervisor,
            evidence: [
              { name: 'provenance', digest: { sha256: sha256(provenance) } },
              { name: 'vsa', digest: { sha256: sha256(vsa) } },
            ],
          }),
          supervisorKey,
        ),
      ),
    );
    const base = `${name}/${version}`;
    const bundleTarget = `${base}/${artifact.name}`;
    const entry = encodeReleaseLogEntry({
      releaseId,
      name,
      version,
      targets: artifacts.map((a) => ({ name: `${base}/${a.name}`, sha256: a.sha256 })),
      provenance: { sha256: sha256(provenance) },
      vsa: { sha256: sha256(vsa) },
      approval: { sha256: sha256(approval) },
    });
    let receipt: string;
    let logIndex = 0n;
    if (tweaks.unloggedReceipt !== undefined) {
      receipt = tweaks.unloggedReceipt;
    } else {
      const target = (tweaks.log ?? log).log;
      const added = await target.add(entry);
      logIndex = added.index;
      receipt = await target.receipt(added.index, await target.waitForCheckpoint(added.index));
    }
    receipt = tweaks.receipt?.(receipt) ?? receipt;

    const releaseLog = { origin: LOG_ORIGIN, index: logIndex.toString() };
    const custom = (kind: string, attestation?: string): Record<string, unknown> => ({
      releaseId,
      kind,
      releaseLog,
      ...(attestation === undefined ? {} : { attestation }),
    });
    const attestation = (kind: string, bytes: Uint8Array) => ({
      name: `${base}/attestations/${kind}.${sha256(bytes).slice(0, 16)}.json`,
      bytes,
      custom: custom('attestation', kind),
    });
    const draft = await publishRelease({
      dir: repoDir,
      targets: [
        ...files.map((f) => ({
          name: `${base}/${f.name}`,
          bytes: f.bytes,
          custom: { ...custom('artifact'), ...tweaks.artifactCustom },
        })),
        attestation('provenance', provenance),
        attestation('vsa', vsa),
        attestation('approval', approval),
        {
          name: `${base}/release-log.tlog-proof`,
          bytes: utf8(receipt),
          custom: custom('release-log-receipt'),
        },
      ],
      now: new Date(),
    });
    const signers = tweaks.signers ?? 'both';
    if (signers === 'both') {
      await addReleasesSignature(repoDir, signDraft(draft, supervisorTuf.release), new Date());
    } else {
      const releases = parseMetadataJson(draft, MetadataKind.Targets, 'DRAFT_MALFORMED', 'draft');
      if (signers === 'supervisor') {
        releases.signatures = {};
        signMetadata(releases, supervisorTuf.release);
      }
      await publishUnchecked(repoDir, releases);
    }
    return { version, releaseId, bundle, bundleTarget, receipt, logIndex };
  };

  const world: World = {
    work,
    repoDir,
    repoUrl,
    supervisorTuf,
    builderKey,
    supervisorKey,
    log,
    logSignerKey: logKeys.signerKey,
    witnessSignerKey: witnessKeys.signerKey,
    policy,
    override: (path, bytes) => {
      if (bytes === undefined) overrides.delete(path);
      else overrides.set(path, bytes);
    },
    switchLog: (to) => {
      upstream = to.url;
    },
    forkLog: makeLog,
    publish,
    withdraw: async (prefix) => {
      const paths = repoPaths(repoDir);
      const timestamp = parseMetadataBytes(
        await readFile(paths.timestamp),
        MetadataKind.Timestamp,
        'REPO_CORRUPT',
        't',
      );
      const snapshot = parseMetadataBytes(
        await readFile(paths.versioned(timestamp.signed.snapshotMeta.version, 'snapshot')),
        MetadataKind.Snapshot,
        'REPO_CORRUPT',
        's',
      );
      const current = snapshot.signed.meta['releases.json']!.version;
      const releases = parseMetadataBytes(
        await readFile(paths.versioned(current, 'releases')),
        MetadataKind.Targets,
        'REPO_CORRUPT',
        'r',
      );
      const kept = Object.entries(releases.signed.targets).filter(([n]) => !n.startsWith(prefix));
      (releases.signed as { targets: unknown }).targets = Object.fromEntries(kept);
      (releases.signed as { version: number }).version = current + 1;
      releases.signatures = {};
      signMetadata(releases, await loadTufKey(paths.vendorKey('release')));
      signMetadata(releases, supervisorTuf.release);
      await publishUnchecked(repoDir, releases);
    },
    newAgent: async (product) =>
      initAgent({
        ...(product === undefined ? {} : { product }),
        dir: await mkdtemp(join(work, 'agent-')),
        repoUrl,
        root: await readFile(join(repoDir, 'metadata', '1.root.json')),
        policy,
        rulesName: RULES,
        supervisorKeyPem: publicKeyToPem(supervisorKey.verifier),
        verifierId: VERIFIER_ID,
        builderKeyPem: publicKeyToPem(builderKey.verifier),
        builderId: BUILDER_ID,
        source: SOURCE,
        supervisorTufKeys: {
          root: supervisorTuf.root.publicKey,
          release: supervisorTuf.release.publicKey,
        },
      }),
    close: async () => {
      for (const close of closers.reverse()) await close();
      await rm(work, { recursive: true, force: true });
    },
  };
  return world;
}

/**
 * What a vendor acting alone (or a stolen supervisor key) could put up:
 * releases metadata with the signatures it has, published with a valid
 * snapshot and timestamp, skipping the repository's threshold check.
 */
async function publishUnchecked(dir: string, releases: Metadata<Targets>): Promise<void> {
  const paths = repoPaths(dir);
  const now = new Date();
  const timestamp = parseMetadataBytes(
    await readFile(paths.timestamp),
    MetadataKind.Timestamp,
    'REPO_CORRUPT',
    't',
  );
  const snapshotVersion = timestamp.signed.snapshotMeta.version;
  const snapshot = parseMetadataBytes(
    await readFile(paths.versioned(snapshotVersion, 'snapshot')),
    MetadataKind.Snapshot,
    'REPO_CORRUPT',
    's',
  );
  const releasesBytes = serializeMetadata(releases);
  await writeFile(paths.versioned(releases.signed.version, 'releases'), releasesBytes);
  const nextSnapshot = buildSnapshot({
    version: snapshotVersion + 1,
    expires: expiresAfter(now, 7 * DAY),
    meta: {
      ...snapshot.signed.meta,
      'releases.json': metaFileFor(releases.signed.version, releasesBytes),
    },
  });
  signMetadata(nextSnapshot, await loadTufKey(paths.vendorKey('snapshot')));
  const snapshotBytes = serializeMetadata(nextSnapshot);
  await writeFile(paths.versioned(nextSnapshot.signed.version, 'snapshot'), snapshotBytes);
  const nextTimestamp = buildTimestamp({
    version: timestamp.signed.version + 1,
    expires: expiresAfter(now, DAY),
    snapshotVersion: nextSnapshot.signed.version,
    snapshotBytes,
  });
  signMetadata(nextTimestamp, await loadTufKey(paths.vendorKey('timestamp')));
  await writeFile(paths.timestamp, serializeMetadata(nextTimestamp));
}

/** Serves DIR/metadata and DIR/targets; `overrides` win over the files. */
async function serveStatic(
  dir: string,
  overrides: ReadonlyMap<string, Uint8Array>,
  closers: (() => Promise<void>)[],
): Promise<string> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname).slice(1);
    const override = overrides.get(path);
    if (override !== undefined) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(override);
      return;
    }
    const parts = path.split('/');
    if (
      (parts[0] !== 'metadata' && parts[0] !== 'targets') ||
      parts.some((p) => p === '' || p === '.' || p === '..')
    ) {
      res.writeHead(404).end();
      return;
    }
    readFile(join(dir, ...parts)).then(
      (bytes) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes),
      (err: unknown) =>
        res.writeHead((err as NodeJS.ErrnoException).code === 'ENOENT' ? 404 : 500).end(),
    );
  });
  return listenOnLoopback(server, closers);
}

/** Forwards every request to the URL `upstream()` names at that moment. */
async function serveSwitch(
  upstream: () => string,
  closers: (() => Promise<void>)[],
): Promise<string> {
  const server = createServer((req, res) => {
    const target = new URL((req.url ?? '/').slice(1), upstream());
    const forward = httpRequest(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  return `${await listenOnLoopback(server, closers)}/`;
}

async function listenOnLoopback(server: Server, closers: (() => Promise<void>)[]): Promise<string> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
