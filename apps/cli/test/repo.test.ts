import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addRootSignature,
  draftTargets,
  ensureSupervisorTufKeys,
  generateTufKey,
  initRepository,
  loadTufKey,
  repoPaths,
  rootDraft,
  signDraft,
} from '@glasshouse/distribution';
import { AssemblyClient } from '@glasshouse/release';
import { forgeRedelegation } from '../../../packages/distribution/test/forge.js';
import {
  FIXED_EPOCH,
  TestRepo,
  commandRecipe,
} from '../../../packages/release/test/assembly-fixtures.js';
import { startAssemblyServer, type RunningAssemblyServer } from '../src/commands/assembly.js';
import { initDataDir, startLogServer, type RunningLogServer } from '../src/commands/log.js';
import {
  repositoryCallerKeyPath,
  startRepoServer,
  type RunningRepoServer,
} from '../src/commands/repo.js';
import { ROUTES, caller, readCallerKey } from '../src/callers.js';
import { quietIo, runCli } from './cli-harness.js';
import { buildAndApprove, engineerCallers, initVendorAndSupervisor } from './vendor-supervisor.js';

const LOG_ORIGIN = 'example.org/release-log';
const ARTIFACT = 'update.bin';
const TARGET = `demo-command/1.0.0/${ARTIFACT}`;
const KEYID = '[0-9a-f]{64}';

let work = '';
let supervisorDir = '';
let repoDir = '';
let keysFile = '';
let layoutKeyFile = '';
let source: TestRepo;
let commit = '';
let assembly: RunningAssemblyServer | undefined;
let log: RunningLogServer | undefined;
let repo: RunningRepoServer | undefined;
let releaseId = '';
let artifactSha256 = '';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'glasshouse-cli-repo-'));
  supervisorDir = join(work, 'supervisor');
  repoDir = join(work, 'repo');
  keysFile = join(work, 'supervisor-tuf-keys.json');
  layoutKeyFile = join(work, 'layout.pem');
  source = await TestRepo.create(join(work, 'src'));
  commit = await source.commit(
    {
      'glasshouse-recipe.json': commandRecipe(`printf 'update 1\\n' > "$OUT_DIR/${ARTIFACT}"`, [
        ARTIFACT,
      ]),
    },
    { epoch: FIXED_EPOCH },
  );
});
afterAll(async () => {
  await repo?.close();
  await log?.close();
  await assembly?.close();
  await rm(work, { recursive: true, force: true });
});

/** The supervisor's command against the repository at `url`. */
function supervise(command: string, url: string) {
  return runCli(['supervisor', command, '--repo', url, '--dir', supervisorDir]);
}

/** The supervisor completes the targets and root drafts vN: targets waits, the root publishes both. */
async function signTargetsThenRoot(url: string, version: number): Promise<void> {
  const targets = await supervise('sign-targets', url);
  expectOk(targets);
  expect(targets.stdout).toBe(
    `targets v${version} signed (2/2); published: no (goes out with the root draft)\n`,
  );
  const root = await supervise('sign-root', url);
  expectOk(root);
  expect(root.stdout).toBe(`root v${version} signed; published: yes\n`);
}

function expectOk(res: { code: number; stderr: string }): void {
  expect(res.code, res.stderr).toBe(0);
}

describe('glasshouse repo and the supervisor signing releases', () => {
  it('sets up the vendor, the supervisor and an approved release', async () => {
    const env = await initVendorAndSupervisor(work);
    assembly = await startAssemblyServer({
      dir: env.assemblyDir,
      listen: '127.0.0.1:0',
      callers: await engineerCallers(env),
      io: quietIo,
    });
    const approved = await buildAndApprove(env, assembly.url, source.dir, commit);
    releaseId = approved.releaseId;
    artifactSha256 = new RegExp(`^artifact ([0-9a-f]{64}) ${ARTIFACT}$`, 'm').exec(
      approved.built.stdout,
    )?.[1] as string;
    expect(artifactSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(approved.rebuilt.stdout).toContain(`approved ${releaseId}\n`);
  });

  it('supervisor tuf-keys creates the TUF keys once and writes their public keys file', async () => {
    const toFile = await runCli([
      'supervisor',
      'tuf-keys',
      '--dir',
      supervisorDir,
      '--out',
      keysFile,
    ]);
    expectOk(toFile);
    expect(toFile.stdout).toMatch(
      new RegExp(`^tuf-root ${KEYID}\ntuf-targets ${KEYID}\ntuf-release ${KEYID}\n$`),
    );
    const file = JSON.parse(await readFile(keysFile, 'utf8')) as {
      schema: string;
      root: { keyid: string };
      targets: { keyid: string };
      release: { keyid: string };
    };
    expect(file.schema).toBe('glasshouse.supervisor-tuf-keys/v2');
    expect(toFile.stdout).toBe(
      `tuf-root ${file.root.keyid}\ntuf-targets ${file.targets.keyid}\ntuf-release ${file.release.keyid}\n`,
    );

    const toStdout = await runCli(['supervisor', 'tuf-keys', '--dir', supervisorDir]);
    expectOk(toStdout);
    expect(toStdout.stdout).toBe(await readFile(keysFile, 'utf8'));
    expect(toStdout.stderr).toBe(toFile.stdout);

    const notSupervisor = await runCli(['supervisor', 'tuf-keys', '--dir', join(work, 'nowhere')]);
    expect(notSupervisor.code).toBe(2);
    expect(notSupervisor.stderr).toContain('run "glasshouse supervisor init');
  });

  it('repo init drafts root v1 and targets v1 with the supervisor keys, once', async () => {
    const res = await runCli([
      'repo',
      'init',
      '--dir',
      repoDir,
      '--supervisor-keys',
      keysFile,
      '--timestamp-expiry',
      '3600',
    ]);
    expectOk(res);
    const file = JSON.parse(await readFile(keysFile, 'utf8')) as {
      root: { keyid: string };
      targets: { keyid: string };
      release: { keyid: string };
    };
    expect(res.stdout).toMatch(
      new RegExp(
        `^vendor root ${KEYID}\nvendor targets ${KEYID}\nvendor release ${KEYID}\n` +
          `vendor snapshot ${KEYID}\nvendor timestamp ${KEYID}\n` +
          `supervisor root ${file.root.keyid}\nsupervisor targets ${file.targets.keyid}\n` +
          `supervisor release ${file.release.keyid}\n` +
          'root and targets drafts v1: signed by the vendor; once the repository is served, run ' +
          '"glasshouse supervisor sign-targets --repo URL" and "glasshouse supervisor sign-root --repo URL"\n$',
      ),
    );
    const status = await runCli(['repo', 'status', '--dir', repoDir]);
    expectOk(status);
    expect(status.stdout).toBe(
      'root v0\ntargets v0\ntargets signed by vendor and supervisor (threshold 2)\n' +
        'pending root v1\npending targets v1\n',
    );
    // A keys file of the old format names no targets key: no repository of the old scheme.
    const oldFile = join(work, 'old-keys.json');
    const v1 = JSON.parse(await readFile(keysFile, 'utf8')) as Record<string, unknown>;
    delete v1.targets;
    await writeFile(
      oldFile,
      JSON.stringify({ ...v1, schema: 'glasshouse.supervisor-tuf-keys/v1' }),
    );
    const old = await runCli([
      'repo',
      'init',
      '--dir',
      join(work, 'old'),
      '--supervisor-keys',
      oldFile,
    ]);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/^REPO_OPTION_INVALID: /m);

    const again = await runCli(['repo', 'init', '--dir', repoDir, '--supervisor-keys', keysFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^REPO_ALREADY_INITIALIZED: /m);
    const badExpiry = await runCli([
      'repo',
      'init',
      '--dir',
      join(work, 'unused'),
      '--supervisor-keys',
      keysFile,
      '--snapshot-expiry',
      '1.5',
    ]);
    expect(badExpiry.code).toBe(2);
    expect(badExpiry.stderr).toContain('--snapshot-expiry wants a whole number');
    const notServed = await runCli([
      'repo',
      'serve',
      '--dir',
      join(work, 'unused'),
      '--assembly',
      assembly!.url,
      '--release-log',
      'http://127.0.0.1:1/',
      '--layout-key',
      layoutKeyFile,
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(notServed.code).toBe(1);
    expect(notServed.stderr).toMatch(/^REPO_NOT_INITIALIZED: /m);
  });

  it('supervisor sign-targets and sign-root publish targets v1 and root v1', async () => {
    // The vendor's release log, without a witness: checkpoints are published at once.
    // It accepts adds from the repository's key.
    const logDir = join(work, 'release-log');
    await initDataDir({ dir: logDir, origin: LOG_ORIGIN });
    const repoKey = await readCallerKey(repositoryCallerKeyPath(repoDir));
    log = await startLogServer({
      dir: logDir,
      listen: '127.0.0.1:0',
      callers: [caller('repository', repoKey, ROUTES.logAdd)],
      io: quietIo,
    });
    repo = await startRepoServer({
      dir: repoDir,
      assemblyUrl: assembly!.url,
      releaseLogUrl: log.url,
      layoutKeyPem: await readFile(layoutKeyFile, 'utf8'),
      listen: '127.0.0.1:0',
      io: quietIo,
    });
    await signTargetsThenRoot(repo.url, 1);
    const status = await runCli(['repo', 'status', '--dir', repoDir]);
    expect(status.stdout).toMatch(
      /^root v1\ntargets v1\ntargets signed by vendor and supervisor \(threshold 2\)\nsnapshot v1 expires \S+Z\ntimestamp v1 expires \S+Z\n$/,
    );

    const nothing = await supervise('sign-release', repo.url);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toMatch(/^DRAFT_MISSING: /m);
  });

  it('repo publish signs with the key of the repository it calls; another one is refused', async () => {
    const other = join(work, 'other-repo');
    expectOk(await runCli(['repo', 'init', '--dir', other, '--supervisor-keys', keysFile]));
    const res = await runCli(['repo', 'publish', releaseId, '--repo', repo!.url, '--dir', other]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^AUTH_KEY_UNKNOWN: /m);
    expect(res.stdout).toBe('');
  });

  it('repo publish drafts the release; supervisor sign-release publishes it', async () => {
    const published = await runCli([
      'repo',
      'publish',
      releaseId,
      '--repo',
      repo!.url,
      '--dir',
      repoDir,
    ]);
    expectOk(published);
    expect(published.stdout).toMatch(/^draft v1\nrelease-log 0\n/);
    expect(published.stdout).toContain(`\ntarget ${TARGET}\n`);
    expect(published.stdout).toMatch(/^target demo-command\/1\.0\.0\/attestations\/\S+$/m);
    expect(published.stdout).toContain(
      `releases draft v1: signed by the vendor; the supervisor publishes it with "glasshouse supervisor sign-release --repo ${repo!.url}"\n`,
    );
    const pending = await runCli(['repo', 'status', '--dir', repoDir]);
    expect(pending.stdout).toMatch(/^pending releases v1$/m);

    const signed = await supervise('sign-release', repo!.url);
    expectOk(signed);
    expect(signed.stdout).toBe('releases v1 signed (2/2); published: yes\n');

    const status = await runCli(['repo', 'status', '--dir', repoDir]);
    expect(status.stdout).toMatch(/^releases v1 expires \S+Z$/m);
    expect(status.stdout).toContain(`target ${TARGET}\n`);
    expect(status.stdout).not.toContain('pending');

    const again = await supervise('sign-release', repo!.url);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^DRAFT_MISSING: /m);
  });

  it('the real tuf-js client, pinned to 1.root.json, downloads the artifact', async () => {
    const url = repo!.url;
    const metadataDir = await mkdtemp(join(work, 'tuf-client-'));
    const targetDir = await mkdtemp(join(work, 'tuf-download-'));
    const root = await fetch(`${url}/metadata/1.root.json`);
    expect(root.status).toBe(200);
    await writeFile(join(metadataDir, 'root.json'), Buffer.from(await root.arrayBuffer()));
    const updater = new Updater({
      metadataDir,
      metadataBaseUrl: `${url}/metadata`,
      targetDir,
      targetBaseUrl: `${url}/targets`,
      config: { fetchRetry: false },
    });
    const info = await updater.getTargetInfo(TARGET);
    expect(info?.custom).toMatchObject({ releaseId, kind: 'artifact' });
    const bytes = await readFile(await updater.downloadTarget(info!));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(artifactSha256);
    const fromAssembly = await new AssemblyClient(assembly!.url).artifact(releaseId, ARTIFACT);
    expect(bytes.equals(fromAssembly)).toBe(true);
  });

  it('supervisor sign-targets refuses a draft that weakens the delegation, naming the change', async () => {
    const paths = repoPaths(repoDir);
    const honest = await draftTargets({ dir: repoDir, now: new Date() });
    const vendorTargets = await loadTufKey(paths.vendorKey('targets'));
    const vendorRelease = (await loadTufKey(paths.vendorKey('release'))).keyid;
    const other = generateTufKey();
    type Signed = {
      targets: Record<string, unknown>;
      delegations: {
        keys: Record<string, unknown>;
        roles: { keyids: string[]; threshold: number }[];
      };
    };
    const weakened: [string, (s: Signed) => void][] = [
      ['TARGETS_THRESHOLD_LOWERED', (s) => (s.delegations.roles[0]!.threshold = 1)],
      [
        'TARGETS_KEY_SWAPPED',
        (s) => {
          const role = s.delegations.roles[0]!;
          role.keyids = role.keyids.map((id) => (id === vendorRelease ? other.keyid : id));
          s.delegations.keys = Object.fromEntries(
            Object.entries(s.delegations.keys).map(([id, key]) =>
              id === vendorRelease ? [other.keyid, other.publicKey] : [id, key],
            ),
          );
        },
      ],
      [
        'TARGETS_TOP_LEVEL_TARGET',
        (s) => (s.targets['tool.bin'] = { length: 1, hashes: { sha256: 'a'.repeat(64) } }),
      ],
    ];
    for (const [code, change] of weakened) {
      // What a vendor with its targets key could put up for signature.
      const copy = structuredClone(honest.signed) as unknown as Signed;
      change(copy);
      const signature = signDraft({ signed: copy, signatures: [] }, vendorTargets);
      await writeFile(
        paths.targetsDraft,
        JSON.stringify({ signed: copy, signatures: [signature] }),
      );
      const res = await supervise('sign-targets', repo!.url);
      expect(res.code, code).toBe(1);
      expect(res.stderr).toMatch(new RegExp(`^${code}: `, 'm'));
    }
    await writeFile(paths.targetsDraft, `${JSON.stringify(honest)}\n`);
    const renewed = await supervise('sign-targets', repo!.url);
    expectOk(renewed);
    expect(renewed.stdout).toBe('targets v2 signed (2/2); published: yes\n');
  });

  it('repo migrate moves an old-scheme repository to two-party targets', async () => {
    const oldDir = join(work, 'old-scheme-repo');
    const supervisorTuf = await ensureSupervisorTufKeys(supervisorDir);
    // As repositories were created before: targets the vendor's alone.
    await initRepository({
      dir: oldDir,
      supervisorKeys: {
        root: supervisorTuf.root.publicKey,
        release: supervisorTuf.release.publicKey,
      },
      now: new Date(),
    });
    await addRootSignature(
      oldDir,
      signDraft(await rootDraft(oldDir), supervisorTuf.root),
      new Date(),
    );
    const old = await startRepoServer({
      dir: oldDir,
      assemblyUrl: assembly!.url,
      releaseLogUrl: log!.url,
      layoutKeyPem: await readFile(layoutKeyFile, 'utf8'),
      listen: '127.0.0.1:0',
      io: quietIo,
    });
    try {
      const before = await runCli(['repo', 'status', '--dir', oldDir]);
      expect(before.stdout).toMatch(/^OLD SCHEME: targets signed by the vendor alone/m);
      const migrate = await runCli([
        'repo',
        'migrate',
        '--dir',
        oldDir,
        '--supervisor-keys',
        keysFile,
      ]);
      expectOk(migrate);
      expect(migrate.stdout).toMatch(/^root draft v2\ntargets draft v2\n/);
      await signTargetsThenRoot(old.url, 2);
      const after = await runCli(['repo', 'status', '--dir', oldDir]);
      expect(after.stdout).toMatch(
        /^root v2\ntargets v2\ntargets signed by vendor and supervisor \(threshold 2\)\n/,
      );
      const again = await runCli([
        'repo',
        'migrate',
        '--dir',
        oldDir,
        '--supervisor-keys',
        keysFile,
      ]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/^REPO_OPTION_INVALID: /m);
    } finally {
      await old.close();
    }
  });

  it('help lists the repo and supervisor commands', async () => {
    const top = await runCli(['--help']);
    expect(top.stdout).toMatch(/^ {2}repo\b/m);
    const repoHelp = await runCli(['repo', '--help']);
    for (const sub of ['init', 'serve', 'publish', 'migrate', 'rotate-root', 'status']) {
      expect(repoHelp.stdout).toMatch(new RegExp(`^  ${sub}\\b`, 'm'));
    }
    const supHelp = await runCli(['supervisor', '--help']);
    for (const sub of ['tuf-keys', 'sign-root', 'sign-targets', 'sign-release', 'watch-repo']) {
      expect(supHelp.stdout).toMatch(new RegExp(`^  ${sub}\\b`, 'm'));
    }
    const missing = await runCli(['repo', 'publish', releaseId, '--dir', repoDir]);
    expect(missing.code).toBe(2);
    const badThreshold = await runCli([
      'repo',
      'rotate-root',
      '--dir',
      repoDir,
      '--threshold',
      'two',
    ]);
    expect(badThreshold.code).toBe(1);
    expect(badThreshold.stderr).toMatch(/^REPO_OPTION_INVALID: --threshold/m);
  });

  // Last: the forgery leaves the repository in the attacker's hands.
  it('supervisor watch-repo alerts once, with evidence, on a re-delegation it did not sign', async () => {
    const watch = () =>
      runCli(['supervisor', 'watch-repo', '--once', '--repo', repo!.url, '--dir', supervisorDir]);
    const clean = await watch();
    expectOk(clean);
    expect(clean.stdout).toMatch(
      /^repository checked at timestamp v\d+: 0 finding\(s\), no new alert$/m,
    );

    await forgeRedelegation(repoDir, {
      name: 'demo-command/6.6.6/update.bin',
      bytes: new TextEncoder().encode('owned'),
    });
    const alerted = await watch();
    expect(alerted.code).toBe(1);
    expect(alerted.stderr).toMatch(/^ALERTS_RAISED: /m);
    const again = await watch();
    expectOk(again);
    expect(again.stdout).toMatch(/: 3 finding\(s\), no new alert$/m);
    const alerts = (await readFile(join(supervisorDir, 'alerts.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as {
            kind: string;
            code: string;
            evidence: { files: { role: string }[] };
          },
      );
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      kind: 'repository-unsupervised',
      code: 'REPO_TARGETS_UNSUPERVISED',
    });
    expect(alerts[0]!.evidence.files.map((f) => f.role).sort()).toEqual(['releases', 'targets']);
  });
});
