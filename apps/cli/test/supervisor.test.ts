import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatPublicKeyFile,
  generateSigningKey,
  publicKeyFromPem,
  publicKeyToPem,
} from '@glasshouse/attest';
import {
  FIXED_EPOCH,
  RULES_TESTDATA,
  TestRepo,
  commandRecipe,
} from '../../../packages/release/test/assembly-fixtures.js';
import { ROUTES, caller, ensureCallerKey } from '../src/callers.js';
import { startAssemblyServer, type RunningAssemblyServer } from '../src/commands/assembly.js';
import { inTotoVerifyInstalled } from '../../../packages/attest/test/in-toto-tool.js';
import { quietIo, runCli } from './cli-harness.js';
import { BUILDER_ID, initVendorAndSupervisor, pems, reviewRelease } from './vendor-supervisor.js';

let work = '';
let assemblyDir = '';
let supervisorDir = '';
let layoutKeyFile = '';
let repo: TestRepo;
let rulesCommit = '';
let randomCommit = '';
let server: RunningAssemblyServer | undefined;
let engineerKey = '';
let releaseId = '';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'glasshouse-cli-supervisor-'));
  assemblyDir = join(work, 'assembly');
  supervisorDir = join(work, 'supervisor');
  layoutKeyFile = join(work, 'layout.pem');
  repo = await TestRepo.create(join(work, 'src'));
  rulesCommit = await repo.commit({}, { copyFrom: RULES_TESTDATA });
  randomCommit = await repo.commit(
    {
      'glasshouse-recipe.json': commandRecipe('head -c 32 /dev/urandom > "$OUT_DIR/out.bin"', [
        'out.bin',
      ]),
    },
    { epoch: FIXED_EPOCH + 60 },
  );
});
afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('glasshouse supervisor and release verify', () => {
  it('pins the builder in the supervisor and the supervisor in the assembly line', async () => {
    const env = await initVendorAndSupervisor(work);
    const { assemblyInit: assembly, supervisorInit: sup, assemblyPin: pinned } = env.results;
    expect(assembly.code).toBe(0);
    const [builderPem, layoutPem] = pems(assembly.stdout);
    const layoutKey = publicKeyFromPem(layoutPem!);
    expect(assembly.stdout).toContain(`layout-keyid ${layoutKey.keyid}\n`);
    expect(assembly.stdout).not.toMatch(/^supervisor /m);
    expect((await stat(join(assemblyDir, 'layout.key'))).mode & 0o777).toBe(0o600);

    const half = await runCli(['supervisor', 'init', '--dir', supervisorDir, '--builder-key', 'x']);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--builder-key and --builder-id go together');

    expect(sup.code, sup.stderr).toBe(0);
    const [supervisorPem] = pems(sup.stdout);
    const supervisorKey = publicKeyFromPem(supervisorPem!);
    const builderKey = publicKeyFromPem(builderPem!);
    expect(sup.stdout).toContain(`keyid ${supervisorKey.keyid}\n`);
    expect(sup.stdout).toMatch(/^verifier https:\/\/\S+$/m);
    expect(sup.stdout).toContain('policy review-required=true reviewers=Alice Auditor\n');
    expect(sup.stdout).toContain(`builder ${BUILDER_ID} ${builderKey.keyid}\n`);
    expect((await stat(join(supervisorDir, 'supervisor.key'))).mode & 0o777).toBe(0o600);
    const kept = await runCli(['supervisor', 'init', '--dir', supervisorDir]);
    expect(kept.stdout).toBe(sup.stdout);

    const other = join(work, 'other-supervisor');
    const open = await runCli(['supervisor', 'init', '--dir', other, '--no-require-review']);
    expect(open.code, open.stderr).toBe(0);
    expect(open.stdout).toContain('policy review-required=false reviewers=*\n');
    expect(open.stdout).not.toMatch(/^builder /m);
    const strict = await runCli(['supervisor', 'init', '--dir', other, '--require-review']);
    expect(strict.stdout).toContain('policy review-required=true reviewers=*\n');

    expect(pinned.code, pinned.stderr).toBe(0);
    expect(pinned.stdout).toBe(`${assembly.stdout}supervisor ${supervisorKey.keyid}\n`);
  });

  it('rebuilds and approves a release only after an allowed reviewer reviewed it', async () => {
    engineerKey = join(work, 'engineer.key');
    server = await startAssemblyServer({
      dir: assemblyDir,
      listen: '127.0.0.1:0',
      callers: [
        caller('release engineer', await ensureCallerKey(engineerKey), ROUTES.assemblyBuild),
      ],
      io: quietIo,
    });
    const url = server.url;
    const built = await runCli([
      'release',
      'build',
      '--key',
      engineerKey,
      '--assembly',
      url,
      '--source',
      repo.dir,
      '--commit',
      rulesCommit,
    ]);
    expect(built.code, built.stderr).toBe(0);
    releaseId = /^release (\S+)$/m.exec(built.stdout)?.[1] ?? '';

    const early = await runCli([
      'supervisor',
      'rebuild',
      releaseId,
      '--assembly',
      url,
      '--dir',
      supervisorDir,
    ]);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/^SUPERVISOR_REVIEW_REQUIRED: /m);

    const review = (reviewer: string): ReturnType<typeof runCli> =>
      reviewRelease(url, supervisorDir, releaseId, reviewer, 'read every rule of the diff');
    const mallory = await review('Mallory');
    expect(mallory.code).toBe(1);
    expect(mallory.stderr).toMatch(/^SUPERVISOR_REVIEWER_NOT_ALLOWED: /m);
    const alice = await review('Alice Auditor');
    expect(alice.code, alice.stderr).toBe(0);
    expect(alice.stdout).toMatch(/^review [0-9a-f]{64}\nstatus built\n$/);

    const rebuilt = await runCli([
      'supervisor',
      'rebuild',
      releaseId,
      '--assembly',
      url,
      '--dir',
      supervisorDir,
    ]);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(rebuilt.stdout).toMatch(
      new RegExp(
        `^approved ${releaseId}\nlink [0-9a-f]{64} build\\.[0-9a-f]{8}\\.link\nvsa [0-9a-f]{64}\napproval [0-9a-f]{64}\n$`,
      ),
    );
    expect(rebuilt.stderr).toMatch(/^rebuild: rebuild matches: /m);
    const shown = await runCli(['release', 'show', '--assembly', url, releaseId]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ status: 'approved' });
  });

  it('release verify checks the approved release with the pinned layout key', async () => {
    const url = server!.url;
    const out = join(work, 'kit');
    const verified = await runCli([
      'release',
      'verify',
      releaseId,
      '--assembly',
      url,
      '--layout-key',
      layoutKeyFile,
      '--out',
      out,
    ]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(
      new RegExp(`^verified ${releaseId} demo-rules 1\\.0\\.0$`, 'm'),
    );
    expect(verified.stdout).toMatch(/^artifact [0-9a-f]{64} demo-rules-1\.0\.0\.tar$/m);
    expect(verified.stdout).toContain(`kit ${out}\n`);
    expect(verified.stdout).toContain(
      `run cd ${join(out, 'delivery')} && in-toto-verify --layout ../root.layout`,
    );
    await stat(join(out, 'delivery', 'demo-rules-1.0.0.tar'));

    // The same key as securesystemslib's .pub JSON, and as the service reports it.
    const layoutPem = await readFile(layoutKeyFile, 'utf8');
    const pub = join(work, 'layout.pub');
    await writeFile(pub, formatPublicKeyFile(publicKeyFromPem(layoutPem)));
    const viaPub = await runCli([
      'release',
      'verify',
      releaseId,
      '--assembly',
      url,
      '--layout-key',
      pub,
    ]);
    expect(viaPub.code, viaPub.stderr).toBe(0);
    expect(viaPub.stdout).not.toContain('kit ');
    const reported = await runCli(['release', 'layout-key', '--assembly', url]);
    expect(reported.code).toBe(0);
    expect(reported.stdout).toBe(layoutPem);
  });

  if (inTotoVerifyInstalled) {
    it('release verify --in-toto-verify runs the real in-toto-verify on the kit', async () => {
      const res = await runCli([
        'release',
        'verify',
        releaseId,
        '--assembly',
        server!.url,
        '--layout-key',
        layoutKeyFile,
        '--out',
        join(work, 'kit-checked'),
        '--in-toto-verify',
      ]);
      expect(res.code, res.stderr).toBe(0);
      expect(res.stdout).toMatch(/^in-toto-verify passed$/m);
    });
  } else if (process.env.CI) {
    it('release verify --in-toto-verify: in-toto-verify is installed (CI installs the Debian in-toto package)', () => {
      expect.fail('in-toto-verify not found on PATH');
    });
  } else {
    console.warn(
      'skipping release verify --in-toto-verify: in-toto-verify not installed (apt-get install in-toto)',
    );
  }

  it('release verify refuses another layout key, and --in-toto-verify without --out', async () => {
    const url = server!.url;
    const stranger = join(work, 'stranger.pem');
    await writeFile(stranger, publicKeyToPem(generateSigningKey().verifier));
    const wrong = await runCli([
      'release',
      'verify',
      releaseId,
      '--assembly',
      url,
      '--layout-key',
      stranger,
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^METADATA_SIGNATURE_INVALID: /m);
    expect(wrong.stdout).toBe('');

    const noOut = await runCli([
      'release',
      'verify',
      releaseId,
      '--assembly',
      url,
      '--layout-key',
      layoutKeyFile,
      '--in-toto-verify',
    ]);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toContain('--in-toto-verify needs --out');

    const path = process.env.PATH;
    process.env.PATH = join(work, 'no-such-bin');
    try {
      const missing = await runCli([
        'release',
        'verify',
        releaseId,
        '--assembly',
        url,
        '--layout-key',
        layoutKeyFile,
        '--out',
        join(work, 'kit-unchecked'),
        '--in-toto-verify',
      ]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^IN_TOTO_VERIFY_MISSING: /m);
    } finally {
      process.env.PATH = path;
    }

    const garbage = join(work, 'garbage.pem');
    await writeFile(garbage, 'not a key\n');
    const bad = await runCli([
      'release',
      'verify',
      releaseId,
      '--assembly',
      url,
      '--layout-key',
      garbage,
    ]);
    expect(bad.code).toBe(2);
  });

  it('supervisor rebuild names every differing file when the rebuild does not match', async () => {
    const url = server!.url;
    const built = await runCli([
      'release',
      'build',
      '--key',
      engineerKey,
      '--assembly',
      url,
      '--source',
      repo.dir,
      '--commit',
      randomCommit,
    ]);
    expect(built.code, built.stderr).toBe(0);
    const id = /^release (\S+)$/m.exec(built.stdout)?.[1] ?? '';
    const reviewed = await runCli([
      'supervisor',
      'review',
      id,
      '--assembly',
      url,
      '--dir',
      supervisorDir,
      '--reviewer',
      'Alice Auditor',
      '--note',
      'ok',
    ]);
    expect(reviewed.code, reviewed.stderr).toBe(0);
    const res = await runCli([
      'supervisor',
      'rebuild',
      id,
      '--assembly',
      url,
      '--dir',
      supervisorDir,
    ]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^differs out\.bin$/m);
    expect(res.stderr).toMatch(/^SUPERVISOR_REBUILD_MISMATCH: /m);
    const shown = await runCli(['release', 'show', '--assembly', url, id]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ status: 'rejected' });
  });

  it('supervisor --help lists its subcommands', async () => {
    const res = await runCli(['supervisor', '--help']);
    expect(res.code).toBe(0);
    for (const sub of ['init', 'review', 'rebuild']) {
      expect(res.stdout).toMatch(new RegExp(`^  ${sub}\\b`, 'm'));
    }
    const top = await runCli(['--help']);
    expect(top.stdout).toMatch(/^ {2}supervisor\b/m);
  });
});
