import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope, publicKeyFromPem, verifyStatementEnvelope } from '@glasshouse/attest';
import { AssemblyClient, type ReleaseRecord } from '@glasshouse/release';
import { RULES_TESTDATA, TestRepo } from '../../../packages/release/test/assembly-fixtures.js';
import { ROUTES, caller, ensureCallerKey } from '../src/callers.js';
import { startAssemblyServer, type RunningAssemblyServer } from '../src/commands/assembly.js';
import { quietIo, runCli } from './cli-harness.js';

let work = '';
let dir = '';
let repo: TestRepo;
let commit = '';
let server: RunningAssemblyServer | undefined;
let engineerKey = '';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'glasshouse-cli-assembly-'));
  dir = join(work, 'assembly');
  repo = await TestRepo.create(join(work, 'src'));
  commit = await repo.commit({}, { copyFrom: RULES_TESTDATA });
});
afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('glasshouse assembly and release', () => {
  let pem = '';

  it('assembly init prints the builder key and keyid, keeps the key 0600, and is idempotent', async () => {
    const first = await runCli([
      'assembly',
      'init',
      '--dir',
      dir,
      '--builder-id',
      'https://b.example/1',
    ]);
    expect(first.code).toBe(0);
    pem =
      /-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----\n/.exec(first.stdout)?.[0] ?? '';
    const key = publicKeyFromPem(pem);
    expect(first.stdout).toContain(`keyid ${key.keyid}\n`);
    expect(first.stdout).toContain('builder https://b.example/1\n');
    expect((await stat(join(dir, 'builder.key'))).mode & 0o777).toBe(0o600);
    expect((await runCli(['assembly', 'init', '--dir', dir])).stdout).toBe(first.stdout);
    const other = await runCli([
      'assembly',
      'init',
      '--dir',
      dir,
      '--builder-id',
      'https://x.example',
    ]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^ASSEMBLY_ALREADY_INITIALIZED: /);
  });

  it('release build prints the id and digests, progress on stderr; release show prints the record', async () => {
    engineerKey = join(work, 'engineer.key');
    server = await startAssemblyServer({
      dir,
      listen: '127.0.0.1:0',
      callers: [
        caller('release engineer', await ensureCallerKey(engineerKey), ROUTES.assemblyBuild),
      ],
      io: quietIo,
    });
    const built = await runCli([
      'release',
      'build',
      '--key',
      engineerKey,
      '--assembly',
      server.url,
      '--source',
      repo.dir,
      '--commit',
      commit,
    ]);
    expect(built.code).toBe(0);
    expect(built.stderr).toContain('checked out');
    const id = /^release (\S+)$/m.exec(built.stdout)?.[1] ?? '';
    expect(built.stdout).toMatch(/^artifact [0-9a-f]{64} demo-rules-1\.0\.0\.tar$/m);

    const shown = await runCli(['release', 'show', '--assembly', server.url, id]);
    expect(shown.code).toBe(0);
    const record = JSON.parse(shown.stdout) as ReleaseRecord;
    expect(record).toMatchObject({ id, commit, status: 'built', builderId: 'https://b.example/1' });
    const provenance = record.attestations.find((a) => a.kind === 'provenance')!;
    const bytes = await new AssemblyClient(server.url).attestation(id, provenance.sha256);
    verifyStatementEnvelope(parseEnvelope(bytes), { keys: [publicKeyFromPem(pem)] });
  });

  it('exits 1 with the code when the build or the lookup fails', async () => {
    const url = server!.url;
    const unknown = await runCli([
      'release',
      'build',
      '--key',
      engineerKey,
      '--assembly',
      url,
      '--source',
      repo.dir,
      '--commit',
      '0'.repeat(40),
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^GIT_COMMIT_NOT_FOUND: /m);
    const bad = await runCli([
      'release',
      'build',
      '--key',
      engineerKey,
      '--assembly',
      url,
      '--source',
      repo.dir,
      '--commit',
      'HEAD',
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^GIT_BAD_COMMIT: /m);
    const missing = await runCli(['release', 'show', '--assembly', url, 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^ASSEMBLY_NOT_FOUND: /m);
    const down = await runCli(['release', 'show', '--assembly', 'http://127.0.0.1:1', 'x']);
    expect(down.stderr).toMatch(/^ASSEMBLY_UNREACHABLE: /m);
  });

  it('serve refuses a directory without an assembly line', async () => {
    const res = await runCli([
      'assembly',
      'serve',
      '--dir',
      join(work, 'empty'),
      '--listen',
      '127.0.0.1:0',
    ]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^ASSEMBLY_NOT_INITIALIZED: /);
  });
});
