import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AssemblyClient } from '@glasshouse/release';
import {
  FIXED_EPOCH,
  TestRepo,
  commandRecipe,
} from '../../../packages/release/test/assembly-fixtures.js';
import { startAssemblyServer, type RunningAssemblyServer } from '../src/commands/assembly.js';
import { initDataDir, startLogServer, type RunningLogServer } from '../src/commands/log.js';
import { startRepoServer, type RunningRepoServer } from '../src/commands/repo.js';
import { quietIo, runCli } from './cli-harness.js';

const BUILDER_ID = 'https://b.example/1';
const LOG_ORIGIN = 'example.org/release-log';
const PEM = /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----\n/g;
const ARTIFACT = 'update.bin';
const TARGET = `demo-command/1.0.0/${ARTIFACT}`;
const KEYID = '[0-9a-f]{64}';

let work = '';
let assemblyDir = '';
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
  assemblyDir = join(work, 'assembly');
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

function expectOk(res: { code: number; stderr: string }): void {
  expect(res.code, res.stderr).toBe(0);
}

describe('glasshouse repo and the supervisor signing releases', () => {
  it('sets up the vendor, the supervisor and an approved release', async () => {
    const init = await runCli([
      'assembly',
      'init',
      '--dir',
      assemblyDir,
      '--builder-id',
      BUILDER_ID,
    ]);
    expectOk(init);
    const [builderPem, layoutPem] = init.stdout.match(PEM) ?? [];
    await writeFile(join(work, 'builder.pem'), builderPem!);
    await writeFile(layoutKeyFile, layoutPem!);
    const sup = await runCli([
      'supervisor',
      'init',
      '--dir',
      supervisorDir,
      '--builder-key',
      join(work, 'builder.pem'),
      '--builder-id',
      BUILDER_ID,
      '--reviewer',
      'Alice Auditor',
    ]);
    expectOk(sup);
    await writeFile(join(work, 'supervisor.pem'), (sup.stdout.match(PEM) ?? [])[0]!);
    expectOk(
      await runCli([
        'assembly',
        'init',
        '--dir',
        assemblyDir,
        '--supervisor-key',
        join(work, 'supervisor.pem'),
      ]),
    );

    assembly = await startAssemblyServer({
      dir: assemblyDir,
      listen: '127.0.0.1:0',
      io: quietIo,
    });
    const url = assembly.url;
    const built = await runCli([
      'release',
      'build',
      '--assembly',
      url,
      '--source',
      source.dir,
      '--commit',
      commit,
    ]);
    expectOk(built);
    releaseId = /^release (\S+)$/m.exec(built.stdout)?.[1] ?? '';
    artifactSha256 = new RegExp(`^artifact ([0-9a-f]{64}) ${ARTIFACT}$`, 'm').exec(
      built.stdout,
    )?.[1] as string;
    expect(artifactSha256).toMatch(/^[0-9a-f]{64}$/);
    expectOk(
      await runCli([
        'supervisor',
        'review',
        releaseId,
        '--assembly',
        url,
        '--dir',
        supervisorDir,
        '--reviewer',
        'Alice Auditor',
        '--note',
        'read the recipe',
      ]),
    );
    const rebuilt = await runCli([
      'supervisor',
      'rebuild',
      releaseId,
      '--assembly',
      url,
      '--dir',
      supervisorDir,
    ]);
    expectOk(rebuilt);
    expect(rebuilt.stdout).toContain(`approved ${releaseId}\n`);

    // The vendor's release log, without a witness: checkpoints are published at once.
    const logDir = join(work, 'release-log');
    await initDataDir({ dir: logDir, origin: LOG_ORIGIN });
    log = await startLogServer({ dir: logDir, listen: '127.0.0.1:0', io: quietIo });
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
    expect(toFile.stdout).toMatch(new RegExp(`^tuf-root ${KEYID}\ntuf-release ${KEYID}\n$`));
    const file = JSON.parse(await readFile(keysFile, 'utf8')) as {
      schema: string;
      root: { keyid: string };
      release: { keyid: string };
    };
    expect(file.schema).toBe('glasshouse.supervisor-tuf-keys/v1');
    expect(toFile.stdout).toBe(`tuf-root ${file.root.keyid}\ntuf-release ${file.release.keyid}\n`);

    const toStdout = await runCli(['supervisor', 'tuf-keys', '--dir', supervisorDir]);
    expectOk(toStdout);
    expect(toStdout.stdout).toBe(await readFile(keysFile, 'utf8'));
    expect(toStdout.stderr).toBe(toFile.stdout);

    const notSupervisor = await runCli(['supervisor', 'tuf-keys', '--dir', join(work, 'nowhere')]);
    expect(notSupervisor.code).toBe(2);
    expect(notSupervisor.stderr).toContain('run "glasshouse supervisor init');
  });

  it('repo init drafts root v1 with the supervisor keys, once', async () => {
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
      release: { keyid: string };
    };
    expect(res.stdout).toMatch(
      new RegExp(
        `^vendor root ${KEYID}\nvendor targets ${KEYID}\nvendor release ${KEYID}\n` +
          `vendor snapshot ${KEYID}\nvendor timestamp ${KEYID}\n` +
          `supervisor root ${file.root.keyid}\nsupervisor release ${file.release.keyid}\n` +
          'root draft v1: signed by the vendor; run "glasshouse supervisor sign-root --repo URL" once the repository is served\n$',
      ),
    );
    const status = await runCli(['repo', 'status', '--dir', repoDir]);
    expectOk(status);
    expect(status.stdout).toBe('root v0\ntargets v1\npending root v1\n');

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
      log!.url,
      '--layout-key',
      layoutKeyFile,
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(notServed.code).toBe(1);
    expect(notServed.stderr).toMatch(/^REPO_NOT_INITIALIZED: /m);
  });

  it('supervisor sign-root publishes root v1', async () => {
    repo = await startRepoServer({
      dir: repoDir,
      assemblyUrl: assembly!.url,
      releaseLogUrl: log!.url,
      layoutKeyPem: await readFile(layoutKeyFile, 'utf8'),
      listen: '127.0.0.1:0',
      io: quietIo,
    });
    const res = await runCli([
      'supervisor',
      'sign-root',
      '--repo',
      repo.url,
      '--dir',
      supervisorDir,
    ]);
    expectOk(res);
    expect(res.stdout).toBe('root v1 signed; published: yes\n');
    const status = await runCli(['repo', 'status', '--dir', repoDir]);
    expect(status.stdout).toMatch(
      /^root v1\ntargets v1\nsnapshot v1 expires \S+Z\ntimestamp v1 expires \S+Z\n$/,
    );

    const nothing = await runCli([
      'supervisor',
      'sign-release',
      '--repo',
      repo.url,
      '--dir',
      supervisorDir,
    ]);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toMatch(/^DRAFT_MISSING: /m);
  });

  it('repo publish needs the publish token of the repository it calls', async () => {
    const other = join(work, 'other-repo');
    expectOk(await runCli(['repo', 'init', '--dir', other, '--supervisor-keys', keysFile]));
    const res = await runCli(['repo', 'publish', releaseId, '--repo', repo!.url, '--dir', other]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^REPO_UNAUTHORIZED: /m);
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

    const signed = await runCli([
      'supervisor',
      'sign-release',
      '--repo',
      repo!.url,
      '--dir',
      supervisorDir,
    ]);
    expectOk(signed);
    expect(signed.stdout).toBe('releases v1 signed (2/2); published: yes\n');

    const status = await runCli(['repo', 'status', '--dir', repoDir]);
    expect(status.stdout).toMatch(/^releases v1 expires \S+Z$/m);
    expect(status.stdout).toContain(`target ${TARGET}\n`);
    expect(status.stdout).not.toContain('pending');

    const again = await runCli([
      'supervisor',
      'sign-release',
      '--repo',
      repo!.url,
      '--dir',
      supervisorDir,
    ]);
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

  it('help lists the repo and supervisor commands', async () => {
    const top = await runCli(['--help']);
    expect(top.stdout).toMatch(/^ {2}repo\b/m);
    const repoHelp = await runCli(['repo', '--help']);
    for (const sub of ['init', 'serve', 'publish', 'status']) {
      expect(repoHelp.stdout).toMatch(new RegExp(`^  ${sub}\\b`, 'm'));
    }
    const supHelp = await runCli(['supervisor', '--help']);
    for (const sub of ['tuf-keys', 'sign-root', 'sign-release']) {
      expect(supHelp.stdout).toMatch(new RegExp(`^  ${sub}\\b`, 'm'));
    }
    const missing = await runCli(['repo', 'publish', releaseId, '--dir', repoDir]);
    expect(missing.code).toBe(2);
  });
});
