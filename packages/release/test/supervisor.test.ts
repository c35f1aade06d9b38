import { spawnSync } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseEnvelope,
  parseLayoutMetablock,
  parseLinkMetablock,
  publicKeyFromPem,
  signingKeyFromPem,
  verificationSummaryOf,
  verifyLayout,
  verifyStatementEnvelope,
  verifyStepLinks,
  verifyVerificationSummary,
  SLSA_PROVENANCE_V1,
  SLSA_VSA_V1,
} from '@glasshouse/attest';
import { readTarArchive } from '@glasshouse/bundle';
import {
  approvalStatement,
  initAssemblyDir,
  signSupervisorStatement,
  openSupervisor,
  initSupervisorDir,
  ReleaseError,
  type MismatchPredicate,
  type ReleaseRecord,
  type Supervisor,
} from '../src/index.js';
import {
  APPROVAL_PREDICATE_TYPE,
  MISMATCH_PREDICATE_TYPE,
  parseProductFiles,
  productFilesOf,
  REVIEW_PREDICATE_TYPE,
} from '@glasshouse/release-format';
import { codeOf } from './codes.js';
import { FIXED_EPOCH, RULES_TESTDATA, commandRecipe } from './assembly-fixtures.js';
import { BUILDER_ID, VERIFIER_ID, startSupervised, type Supervised } from './supervised-fixture.js';

const ALICE = 'Alice Auditor';
const diffoscopeInstalled =
  spawnSync('diffoscope', ['--version'], { stdio: 'ignore' }).status === 0;

let env: Supervised;
let supervisor: Supervisor;
let rulesCommit = '';
let clockCommit = '';

beforeAll(async () => {
  env = await startSupervised({ requireReview: true, reviewers: [ALICE] });
  supervisor = await env.openSupervisor();
  rulesCommit = await env.repo.commit({}, { copyFrom: RULES_TESTDATA });
  // A build that is not reproducible: it writes the current time, as a
  // file of its own and inside an archive next to a file that is stable.
  clockCommit = await env.repo.commit(
    {
      'glasshouse-recipe.json': commandRecipe(
        [
          'mkdir -p "$TMPDIR/t"',
          'date +%s%N > "$TMPDIR/t/stamp.txt"',
          'echo stable > "$TMPDIR/t/fixed.txt"',
          'cp "$TMPDIR/t/stamp.txt" "$OUT_DIR/stamp.txt"',
          'tar --format=ustar --mtime=@"$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -cf "$OUT_DIR/app.tar" -C "$TMPDIR/t" fixed.txt stamp.txt',
        ].join(' && '),
        ['stamp.txt', 'app.tar'],
      ),
    },
    { epoch: FIXED_EPOCH + 120 },
  );
}, 60_000);

afterAll(async () => {
  await env.close();
});

function statementOf(
  bytes: Uint8Array,
  predicateType: string,
): ReturnType<typeof verifyStatementEnvelope>['statement'] {
  return verifyStatementEnvelope(parseEnvelope(bytes), {
    keys: [publicKeyFromPem(supervisor.identity.publicKeyPem)],
    predicateType,
  }).statement;
}

describe('the supervisor', () => {
  let release: ReleaseRecord;

  it('refuses to approve before an allowed reviewer has reviewed', async () => {
    release = await env.client.build(env.repo.dir, rulesCommit);
    expect(release.status).toBe('built');
    expect(await codeOf(supervisor.rebuild(env.client, release.id))).toBe(
      'SUPERVISOR_REVIEW_REQUIRED',
    );
    expect(await codeOf(supervisor.review(env.client, release.id, 'Mallory', 'looks fine'))).toBe(
      'SUPERVISOR_REVIEWER_NOT_ALLOWED',
    );
    expect(await codeOf(supervisor.review(env.client, release.id, ALICE, '   '))).toBe(
      'SUPERVISOR_BAD_REVIEW',
    );
    expect(await codeOf(supervisor.review(env.client, release.id, 'bad\nname', 'x'))).toBe(
      'SUPERVISOR_BAD_REVIEW',
    );
    expect((await env.client.getRelease(release.id)).status).toBe('built');
  });

  it('records a signed review that verifies with its public key alone', async () => {
    const review = await supervisor.review(
      env.client,
      release.id,
      ALICE,
      'Read the rule diff; samples cover every new rule.',
    );
    const listed = review.record.attestations.find((a) => a.kind === 'review');
    expect(listed).toMatchObject({ by: 'supervisor', sha256: review.sha256 });
    const statement = statementOf(
      await env.client.attestation(release.id, review.sha256),
      REVIEW_PREDICATE_TYPE,
    );
    expect(statement.subject).toEqual(
      release.artifacts.map((a) => ({ name: a.name, digest: { sha256: a.sha256 } })),
    );
    expect(statement.predicate).toMatchObject({ releaseId: release.id, reviewer: ALICE });
  });

  it('rebuilds, finds the same bytes, and approves with link, VSA and approval', async () => {
    const progress: string[] = [];
    const approved = await supervisor.rebuild(env.client, release.id, (line) =>
      progress.push(line),
    );
    expect(progress.some((l) => l.startsWith('rebuild matches'))).toBe(true);
    expect(approved.record.status).toBe('approved');
    const record = await env.client.getRelease(release.id);
    expect(record.status).toBe('approved');
    const kinds = record.attestations.map((a) => `${a.by}:${a.kind}`);
    expect(kinds).toEqual([
      'builder:provenance',
      'builder:link',
      'supervisor:review',
      'supervisor:link',
      'supervisor:vsa',
      'supervisor:approval',
      'builder:layout',
    ]);

    // The VSA: PASSED, about the artifacts, naming the vendor's provenance by digest.
    const vsa = verificationSummaryOf(
      statementOf(await env.client.attestation(release.id, approved.vsa.sha256), SLSA_VSA_V1),
    );
    verifyVerificationSummary(vsa, { verifierId: VERIFIER_ID, minimumLevel: 'SLSA_BUILD_LEVEL_2' });
    const provenance = record.attestations.find((a) => a.kind === 'provenance')!;
    expect(vsa.inputAttestations?.map((a) => a.digest.sha256)).toContain(provenance.sha256);
    expect(vsa.resourceUri).toBe(`git+${release.source}@${release.commit}`);

    const approval = statementOf(
      await env.client.attestation(release.id, approved.approval.sha256),
      APPROVAL_PREDICATE_TYPE,
    );
    expect(approval.predicate).toMatchObject({
      releaseId: release.id,
      decision: 'approved',
      policy: { requireReview: true, reviewers: [ALICE] },
    });

    // The layout: signed by the layout key, threshold 2 met by the two links.
    const layoutKey = publicKeyFromPem((await env.client.layoutKey()).publicKeyPem);
    const layout = verifyLayout(parseLayoutMetablock(await env.client.layout(release.id)), {
      layoutKeys: [layoutKey],
      now: new Date(),
    });
    const links = await Promise.all(
      record.attestations
        .filter((a) => a.kind === 'link')
        .map(async (a) => parseLinkMetablock(await env.client.attestation(release.id, a.sha256))),
    );
    const step = verifyStepLinks(layout, 'build', links);
    expect(step.functionaries).toEqual([env.builder.keyid, supervisor.identity.keyid].sort());
    expect(layout.steps[0]?.threshold).toBe(2);

    // The supervisor keeps its own copy of everything it signed.
    const kept = await readdir(join(env.supervisorDir, 'records', release.id));
    expect(kept.map((f) => f.split('.')[0]).sort()).toEqual(['approval', 'link', 'review', 'vsa']);
    expect((await stat(join(env.supervisorDir, 'supervisor.key'))).mode & 0o777).toBe(0o600);
  });

  it('does not decide twice', async () => {
    expect(await codeOf(supervisor.rebuild(env.client, release.id))).toBe(
      'SUPERVISOR_ALREADY_DECIDED',
    );
  });

  it('refuses a build that writes the current time, naming the files', async () => {
    await env.setPolicy({ requireReview: false, reviewers: [] });
    const lenient = await env.openSupervisor();
    const clock = await env.client.build(env.repo.dir, clockCommit);
    let error: unknown;
    try {
      await lenient.rebuild(env.client, clock.id);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ReleaseError);
    const coded = error as ReleaseError;
    expect(coded.code).toBe('SUPERVISOR_REBUILD_MISMATCH');
    const files = (coded.evidence as { differingFiles: string[] }).differingFiles;
    expect(files).toEqual(['app.tar', 'app.tar!stamp.txt', 'stamp.txt']);

    const record = await env.client.getRelease(clock.id);
    expect(record.status).toBe('rejected');
    const report = record.attestations.find((a) => a.kind === 'mismatch-report');
    expect(report).toBeDefined();
    const statement = statementOf(
      await env.client.attestation(clock.id, report!.sha256),
      MISMATCH_PREDICATE_TYPE,
    );
    const predicate = statement.predicate as MismatchPredicate;
    expect(predicate.differingFiles).toEqual(files);
    expect(predicate.differences.find((d) => d.artifact === 'app.tar')?.members).toEqual([
      expect.objectContaining({ path: 'stamp.txt', status: 'content-differs' }),
    ]);
    // With diffoscope (CI installs it) the report carries its text for each differing artifact.
    if (diffoscopeInstalled || process.env.CI) {
      expect(Object.keys(predicate.diffoscope ?? {}).sort()).toEqual(['app.tar', 'stamp.txt']);
      expect(predicate.diffoscope?.['stamp.txt']?.output).toContain('stamp.txt');
    }
    // A rejected release gets no approval and no layout.
    expect(await codeOf(env.client.layout(clock.id))).toBe('ASSEMBLY_NOT_APPROVED');
    expect(await codeOf(lenient.rebuild(env.client, clock.id))).toBe('SUPERVISOR_ALREADY_DECIDED');
  }, 60_000);

  it('approves a product built with npm ci --offline && npm pack in the sandbox', async () => {
    await env.setPolicy({ requireReview: false, reviewers: [] });
    const lenient = await env.openSupervisor();
    const version = '1.2.3';
    const commit = await env.repo.commit(
      {
        'package.json': `${JSON.stringify({ name: 'demo-agent', version, files: ['index.js'] })}\n`,
        'package-lock.json': `${JSON.stringify({
          name: 'demo-agent',
          version,
          lockfileVersion: 3,
          requires: true,
          packages: { '': { name: 'demo-agent', version } },
        })}\n`,
        'index.js': 'console.log("scanning");\n',
        'glasshouse-recipe.json': `${JSON.stringify({
          schema: 'glasshouse.recipe/v1',
          kind: 'command',
          name: 'demo-agent',
          version,
          commands: [
            ['npm', 'ci', '--offline'],
            ['sh', '-c', 'npm pack --pack-destination "$OUT_DIR"'],
          ],
          outputs: [`demo-agent-${version}.tgz`],
        })}\n`,
      },
      { epoch: FIXED_EPOCH + 300 },
    );
    const product = await env.client.build(env.repo.dir, commit);
    const tarballName = `demo-agent-${version}.tgz`;
    const filesName = `demo-agent-${version}.files.json`;
    // The build adds the tarball's file manifest: an artifact like the tarball.
    expect(product.artifacts.map((a) => a.name)).toEqual([tarballName, filesName]);
    expect(product.isolated).toBe(env.sandbox.kind === 'bubblewrap');
    const tarball = await env.client.artifact(product.id, tarballName);
    const files = parseProductFiles(await env.client.artifact(product.id, filesName));
    expect(files).toEqual(productFilesOf({ name: 'demo-agent', version }, readTarArchive(tarball)));
    expect(Object.keys(files.files)).toEqual(['index.js', 'package.json']);

    const approved = await lenient.rebuild(env.client, product.id);
    expect(approved.record.status).toBe('approved');
    // Provenance, VSA and both links name the manifest as a subject / product,
    // so the supervisor's rebuild made and compared it too.
    const subjects = (bytes: Uint8Array, type: string, keyPem: string): (string | undefined)[] =>
      verifyStatementEnvelope(parseEnvelope(bytes), {
        keys: [publicKeyFromPem(keyPem)],
        predicateType: type,
      })
        .statement.subject.map((x) => x.name)
        .sort();
    const record = await env.client.getRelease(product.id);
    const provenance = record.attestations.find((a) => a.kind === 'provenance')!;
    expect(
      subjects(
        await env.client.attestation(product.id, provenance.sha256),
        SLSA_PROVENANCE_V1,
        env.builder.publicKeyPem,
      ),
    ).toEqual([filesName, tarballName]);
    expect(
      subjects(
        await env.client.attestation(product.id, approved.vsa.sha256),
        SLSA_VSA_V1,
        lenient.identity.publicKeyPem,
      ),
    ).toEqual([filesName, tarballName]);
    for (const ref of record.attestations.filter((a) => a.kind === 'link')) {
      const link = parseLinkMetablock(await env.client.attestation(product.id, ref.sha256));
      expect(Object.keys(link.signed.products).sort()).toEqual([filesName, tarballName]);
      expect(link.signed.products[filesName]?.sha256).toBe(
        record.artifacts.find((a) => a.name === filesName)?.sha256,
      );
    }
  }, 60_000);

  it('refuses a product tarball that packs another name or version than its recipe', async () => {
    const commit = await env.repo.commit(
      {
        'glasshouse-recipe.json': commandRecipe(
          [
            'mkdir -p "$TMPDIR/package"',
            'echo \'{"name":"demo-agent","version":"9.9.9"}\' > "$TMPDIR/package/package.json"',
            'tar --format=ustar --mtime=@"$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -czf "$OUT_DIR/demo-agent-1.0.0.tgz" -C "$TMPDIR" package/package.json',
          ].join(' && '),
          ['demo-agent-1.0.0.tgz'],
          { name: 'demo-agent', version: '1.0.0' },
        ),
      },
      { epoch: FIXED_EPOCH + 360 },
    );
    const error = await env.client.build(env.repo.dir, commit).catch((e: unknown) => e);
    expect((error as ReleaseError).code).toBe('BUILD_PRODUCT_INVALID');
  }, 60_000);

  it('needs a pinned key for the builder that signed the provenance', async () => {
    const other = join(env.work, 'other-supervisor');
    await initSupervisorDir({ dir: other, policy: { requireReview: false, reviewers: [] } });
    const unpinned = await openSupervisor({ dir: other, sandbox: env.sandbox });
    const fresh = await env.client.build(env.repo.dir, rulesCommit);
    expect(await codeOf(unpinned.rebuild(env.client, fresh.id))).toBe(
      'SUPERVISOR_BUILDER_NOT_PINNED',
    );
    // A pin for the builder id with another key: the provenance does not verify.
    const impostor = join(env.work, 'impostor-vendor');
    const wrong = await initAssemblyDir({ dir: impostor, builderId: BUILDER_ID });
    await initSupervisorDir({
      dir: other,
      builder: { builderId: BUILDER_ID, publicKeyPem: wrong.publicKeyPem },
    });
    const misPinned = await openSupervisor({ dir: other, sandbox: env.sandbox });
    expect(await codeOf(misPinned.rebuild(env.client, fresh.id))).toBe(
      'SUPERVISOR_PROVENANCE_INVALID',
    );
    // Its uploads are not the pinned supervisor's: the assembly line refuses them.
    expect(await codeOf(misPinned.review(env.client, fresh.id, ALICE, 'note'))).toBe(
      'ASSEMBLY_BAD_ATTESTATION',
    );
    expect((await env.client.getRelease(fresh.id)).status).toBe('built');
  });

  it('an approval needs the link and the VSA first', async () => {
    const fresh = await env.client.build(env.repo.dir, rulesCommit);
    const key = signingKeyFromPem(
      await readFile(join(env.supervisorDir, 'supervisor.key'), 'utf8'),
    );
    const envelope = signSupervisorStatement(
      approvalStatement({
        release: fresh,
        verifierId: VERIFIER_ID,
        approvedAt: new Date(),
        policy: { requireReview: false, reviewers: [] },
        evidence: [],
      }),
      key,
    );
    expect(await codeOf(env.client.addAttestation(fresh.id, { kind: 'approval', envelope }))).toBe(
      'ASSEMBLY_APPROVAL_INCOMPLETE',
    );
    expect((await env.client.getRelease(fresh.id)).status).toBe('built');
  });
});
