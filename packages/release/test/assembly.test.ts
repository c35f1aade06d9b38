import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildVerificationSummary,
  generateSigningKey,
  parseEnvelope,
  parseLinkMetablock,
  provenanceOf,
  publicKeyFromPem,
  serializeMetablock,
  signMetadata,
  buildLink,
  signStatement,
  verificationSummaryStatement,
  verifyMetablockSignature,
  verifyStatementEnvelope,
  SLSA_PROVENANCE_V1,
  decodeBase64,
  parseStatement,
  publicKeyToPem,
  gitCommitTree,
  gitTreeEntries,
  openGitObject,
  type Envelope,
  type GitObjectType,
  type Statement,
} from '@glasshouse/attest';
import {
  AssemblyClient,
  buildAssemblyServer,
  initAssemblyDir,
  openAssemblyLine,
  detectSandbox,
  RULES_BUILD_TYPE,
  COMMAND_BUILD_TYPE,
  type AssemblyLine,
  type ReleaseRecord,
} from '../src/index.js';
import { readBundle } from '@glasshouse/bundle';
import { codeOf } from './codes.js';
import { FIXED_EPOCH, RULES_TESTDATA, TestRepo, commandRecipe } from './assembly-fixtures.js';

const BUILDER_ID = 'https://builder.example.org/assembly/test';
/** The supervisor whose key the assembly line pins: only what it signs is accepted. */
const supervisor = generateSigningKey();
const sandbox = await detectSandbox();

let work = '';
let repo: TestRepo;
let rulesCommit = '';
let noRecipeCommit = '';
let commandCommit = '';
let line: AssemblyLine;
let app: ReturnType<typeof buildAssemblyServer>;
let url = '';
let client: AssemblyClient;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'glasshouse-assembly-'));
  repo = await TestRepo.create(join(work, 'source repo'));
  rulesCommit = await repo.commit({}, { copyFrom: RULES_TESTDATA });
  noRecipeCommit = await repo.commit({ 'README.txt': 'no recipe here\n' });
  commandCommit = await repo.commit(
    {
      'glasshouse-recipe.json': commandRecipe(
        'sleep 1; printf "built at %s\\n" "$SOURCE_DATE_EPOCH" > "$OUT_DIR/out.txt"',
        ['out.txt'],
      ),
    },
    { epoch: FIXED_EPOCH + 60 },
  );
  await initAssemblyDir({
    dir: join(work, 'assembly'),
    builderId: BUILDER_ID,
    supervisorKeyPem: publicKeyToPem(supervisor.verifier),
  });
  line = await openAssemblyLine({ dir: join(work, 'assembly'), debianYara: 'off', sandbox });
  app = buildAssemblyServer({ line });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  client = new AssemblyClient(url);
});

afterAll(async () => {
  await app.close();
  line.close();
  await rm(work, { recursive: true, force: true });
});

function parseStatementOf(envelope: Envelope): Statement {
  return parseStatement(decodeBase64(envelope.payload));
}

async function post(path: string, body: string, type = 'application/json'): Promise<Response> {
  return fetch(url + path, { method: 'POST', body, headers: { 'content-type': type } });
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('assembly line', () => {
  let first: ReleaseRecord;

  it('init keeps the builder key private and is idempotent', async () => {
    const dir = join(work, 'assembly');
    expect((await stat(join(dir, 'builder.key'))).mode & 0o777).toBe(0o600);
    const again = await initAssemblyDir({ dir });
    expect(again.keyid).toBe(line.identity.keyid);
    expect(await codeOf(initAssemblyDir({ dir, builderId: 'https://other.example' }))).toBe(
      'ASSEMBLY_ALREADY_INITIALIZED',
    );
  });

  it('builds a rules release, streams progress and records it', async () => {
    const progress: string[] = [];
    first = await client.build(repo.dir, rulesCommit, (m) => progress.push(m));
    expect(progress.some((m) => m.includes('checked out'))).toBe(true);
    expect(first).toMatchObject({
      name: 'demo-rules',
      version: '1.0.0',
      kind: 'rules',
      source: pathToFileURL(repo.dir).href,
      commit: rulesCommit,
      sourceDateEpoch: FIXED_EPOCH,
      builderId: BUILDER_ID,
      status: 'built',
      isolated: false,
    });
    expect(first.artifacts.map((a) => a.name)).toEqual(['demo-rules-1.0.0.tar']);
    expect(first.attestations.map((a) => a.kind)).toEqual(['provenance', 'link']);
    expect(await client.getRelease(first.id)).toEqual(first);

    const artifact = first.artifacts[0]!;
    const bundle = await client.artifact(first.id, artifact.name);
    expect(sha256(bundle)).toBe(artifact.sha256);
    expect(bundle.length).toBe(artifact.size);
    expect(readBundle(bundle).manifest.sourceDateEpoch).toBe(FIXED_EPOCH);
  });

  it('signs a provenance that verifies with the builder public key alone', async () => {
    const info = await client.builderKey();
    expect(info).toMatchObject({ builderId: BUILDER_ID, keyid: line.identity.keyid });
    const key = publicKeyFromPem(info.publicKeyPem);
    const ref = first.attestations.find((a) => a.kind === 'provenance')!;
    const bytes = await client.attestation(first.id, ref.sha256);
    expect(sha256(bytes)).toBe(ref.sha256);
    const { statement } = verifyStatementEnvelope(parseEnvelope(bytes), {
      keys: [key],
      predicateType: SLSA_PROVENANCE_V1,
      strictBase64: true,
    });
    expect(statement.subject).toEqual([
      { name: 'demo-rules-1.0.0.tar', digest: { sha256: first.artifacts[0]!.sha256 } },
    ]);
    const provenance = provenanceOf(statement);
    expect(provenance.buildDefinition.buildType).toBe(RULES_BUILD_TYPE);
    expect(provenance.buildDefinition.externalParameters).toEqual({
      source: { uri: first.source, digest: { gitCommit: rulesCommit } },
      recipe: 'glasshouse-recipe.json',
    });
    expect(provenance.buildDefinition.internalParameters).toMatchObject({
      isolated: false,
      sourceDateEpoch: FIXED_EPOCH,
    });
    const deps = provenance.buildDefinition.resolvedDependencies ?? [];
    expect(deps[0]).toEqual({ uri: `git+${first.source}`, digest: { gitCommit: rulesCommit } });
    expect(deps[1]).toEqual({
      name: 'glasshouse-recipe.json',
      digest: { sha256: first.recipe.sha256 },
    });
    expect(deps.some((d) => d.name === 'yara-x')).toBe(true);
    expect(provenance.runDetails.builder.id).toBe(BUILDER_ID);
    expect(provenance.runDetails.metadata?.invocationId).toBe(first.id);

    const other = generateSigningKey();
    expect(() =>
      verifyStatementEnvelope(parseEnvelope(bytes), { keys: [other.verifier] }),
    ).toThrow();
  });

  it('signs a legacy link for the build step', async () => {
    const ref = first.attestations.find((a) => a.kind === 'link')!;
    expect(ref.fileName).toBe(`build.${line.identity.keyid.slice(0, 8)}.link`);
    const link = parseLinkMetablock(await client.attestation(first.id, ref.sha256));
    verifyMetablockSignature(link, publicKeyFromPem(line.identity.publicKeyPem));
    expect(link.signed.name).toBe('build');
    expect(link.signed.command).toEqual(['glasshouse-build-rules']);
    expect(link.signed.products).toEqual({
      'demo-rules-1.0.0.tar': { sha256: first.artifacts[0]!.sha256 },
    });
    expect(link.signed.materials['glasshouse-recipe.json']).toEqual({
      sha256: first.recipe.sha256,
    });
    expect(Object.keys(link.signed.materials).some((p) => p.startsWith('rules/'))).toBe(true);
    expect(Object.keys(link.signed.materials).some((p) => p.startsWith('.git'))).toBe(false);
  });

  it("serves the release's source one git object at a time, only of its commit", async () => {
    const get = (oid: string) => fetch(`${url}/releases/${first.id}/source/objects/${oid}`);
    const object = async (oid: string, type: GitObjectType) => {
      const res = await get(oid);
      expect(res.status, await res.clone().text()).toBe(200);
      return openGitObject(new Uint8Array(await res.arrayBuffer()), oid, type);
    };
    const commit = await object(rulesCommit, 'commit');
    const root = gitTreeEntries(await object(gitCommitTree(commit), 'tree'));
    const recipe = root.find((e) => e.name === 'glasshouse-recipe.json')!;
    const recipeBlob = await object(recipe.id, 'blob');
    expect(sha256(recipeBlob.content)).toBe(first.recipe.sha256);
    const rulesDir = root.find((e) => e.name === 'rules')!;
    expect(gitTreeEntries(await object(rulesDir.id, 'tree')).length).toBeGreaterThan(0);
    // An object of another commit of the same repository is not served.
    const later = execFileSync('git', ['rev-parse', `${noRecipeCommit}:README.txt`], {
      cwd: repo.dir,
      encoding: 'utf8',
    }).trim();
    for (const oid of [later, noRecipeCommit, 'HEAD', 'a'.repeat(40)]) {
      const res = await get(oid);
      expect(res.status, oid).toBe(404);
      expect(((await res.json()) as { code: string }).code).toBe('SOURCE_NOT_SERVED');
    }
  });

  it('builds the same commit again to the same bytes', async () => {
    const second = await client.build(pathToFileURL(repo.dir).href, rulesCommit);
    expect(second.id).not.toBe(first.id);
    expect(second.artifacts).toEqual(first.artifacts);
    expect((await client.listReleases()).map((r) => r.id)).toEqual([second.id, first.id]);
  });

  it('refuses bad requests with coded errors and keeps serving', async () => {
    const badCommit = await post('/releases', JSON.stringify({ source: repo.dir, commit: 'abc' }));
    expect(badCommit.status).toBe(400);
    expect(await badCommit.json()).toMatchObject({ code: 'GIT_BAD_COMMIT' });
    const badSource = await post(
      '/releases',
      JSON.stringify({ source: 'ext::sh -c id', commit: rulesCommit }),
    );
    expect(await badSource.json()).toMatchObject({ code: 'GIT_BAD_SOURCE' });
    const extra = await post(
      '/releases',
      JSON.stringify({ source: repo.dir, commit: rulesCommit, x: 1 }),
    );
    expect([extra.status, ((await extra.json()) as { code: string }).code]).toEqual([
      400,
      'ASSEMBLY_BAD_REQUEST',
    ]);
    const notJson = await post('/releases', '{');
    expect([notJson.status, ((await notJson.json()) as { code: string }).code]).toEqual([
      400,
      'ASSEMBLY_BAD_REQUEST',
    ]);
    const huge = await post('/releases', JSON.stringify({ source: 'x'.repeat(20_000) }));
    expect([huge.status, ((await huge.json()) as { code: string }).code]).toEqual([
      413,
      'ASSEMBLY_TOO_LARGE',
    ]);
    const unknown = await fetch(`${url}/releases/0000000000aaaaaaaaaaaaaaaa`);
    expect([unknown.status, ((await unknown.json()) as { code: string }).code]).toEqual([
      404,
      'ASSEMBLY_NOT_FOUND',
    ]);
    expect((await fetch(`${url}/releases/${first.id}/artifacts/nope.tar`)).status).toBe(404);
    expect((await fetch(`${url}/releases/${first.id}/attestations/${'0'.repeat(64)}`)).status).toBe(
      404,
    );

    expect(await codeOf(client.build(repo.dir, 'f'.repeat(40)))).toBe('GIT_COMMIT_NOT_FOUND');
    expect(await codeOf(client.build(repo.dir, noRecipeCommit))).toBe('RECIPE_MISSING');
    expect(await codeOf(client.build(join(work, 'missing'), rulesCommit))).toBe('GIT_FETCH_FAILED');
    expect(await client.listReleases()).toHaveLength(2);
  });

  it('stores what the pinned supervisor uploads, parsed strictly', async () => {
    const subjects = first.artifacts.map((a) => ({ name: a.name, digest: { sha256: a.sha256 } }));
    const vsa = signStatement(
      verificationSummaryStatement(
        subjects,
        buildVerificationSummary({
          verifierId: 'https://supervisor.example.org',
          timeVerified: new Date('2024-01-03T00:00:00Z'),
          resourceUri: `${first.source}@${first.commit}`,
          policy: { uri: 'https://supervisor.example.org/policy' },
          verificationResult: 'PASSED',
          verifiedLevels: ['SLSA_BUILD_LEVEL_2'],
        }),
      ),
      [supervisor],
    );
    const updated = await client.addAttestation(first.id, { kind: 'vsa', envelope: vsa });
    const listed = updated.attestations.find((a) => a.kind === 'vsa')!;
    expect(listed).toMatchObject({ by: 'supervisor', keyids: [supervisor.keyid] });
    const stored = await client.attestation(first.id, listed.sha256);
    verifyStatementEnvelope(parseEnvelope(stored), { keys: [supervisor.verifier] });

    const products = Object.fromEntries(first.artifacts.map((a) => [a.name, { sha256: a.sha256 }]));
    const link = signMetadata(buildLink({ name: 'build', products }), [supervisor]);
    const withLink = await client.addAttestation(first.id, {
      kind: 'link',
      metablock: JSON.parse(serializeMetablock(link)) as unknown,
    });
    expect(
      withLink.attestations.find((a) => a.by === 'supervisor' && a.kind === 'link')?.fileName,
    ).toBe(`build.${supervisor.keyid.slice(0, 8)}.link`);
    // The same bytes twice are listed once.
    expect(
      (await client.addAttestation(first.id, { kind: 'vsa', envelope: vsa })).attestations,
    ).toHaveLength(4);

    for (const body of [
      { kind: 'provenance', envelope: vsa },
      { kind: 'vsa' },
      { kind: 'vsa', envelope: vsa, extra: 1 },
      { kind: 'vsa', envelope: { ...vsa, payload: '!!' } },
      { kind: 'vsa', envelope: { ...vsa, payloadType: 'text/plain' } },
      { kind: 'link', metablock: { signed: {}, signatures: [] } },
      // Signed by another key, or about other artifacts.
      { kind: 'vsa', envelope: signStatement(parseStatementOf(vsa), [generateSigningKey()]) },
      {
        kind: 'vsa',
        envelope: signStatement(
          {
            ...parseStatementOf(vsa),
            subject: [{ name: 'x', digest: { sha256: '0'.repeat(64) } }],
          },
          [supervisor],
        ),
      },
      {
        kind: 'link',
        metablock: signMetadata(buildLink({ name: 'build', products }), [generateSigningKey()]),
      },
      {
        kind: 'link',
        metablock: signMetadata(
          buildLink({ name: 'build', products: { a: { sha256: '0'.repeat(64) } } }),
          [supervisor],
        ),
      },
      { kind: 'layout', envelope: vsa },
      [],
    ]) {
      const res = await post(`/releases/${first.id}/attestations`, JSON.stringify(body));
      expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([
        400,
        'ASSEMBLY_BAD_ATTESTATION',
      ]);
    }
    const tooLarge = await post(
      `/releases/${first.id}/attestations`,
      JSON.stringify({ kind: 'vsa', envelope: { ...vsa, payload: 'A'.repeat(5 * 1024 * 1024) } }),
    );
    expect(tooLarge.status).toBe(413);
    expect(
      await codeOf(
        client.addAttestation('0000000000aaaaaaaaaaaaaaaa', { kind: 'vsa', envelope: vsa }),
      ),
    ).toBe('ASSEMBLY_NOT_FOUND');
  });

  it('builds a command recipe, sandboxed when bubblewrap works, one build at a time', async () => {
    const running = client.build(repo.dir, commandCommit);
    // The build sleeps a second; a second request meanwhile is refused.
    await new Promise((r) => setTimeout(r, 300));
    const busy = await post(
      '/releases',
      JSON.stringify({ source: repo.dir, commit: commandCommit }),
    );
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).not.toBeNull();
    expect(await busy.json()).toMatchObject({ code: 'ASSEMBLY_BUSY' });

    const record = await running;
    expect(record).toMatchObject({ kind: 'command', isolated: sandbox.kind === 'bubblewrap' });
    const out = await client.artifact(record.id, 'out.txt');
    expect(Buffer.from(out).toString()).toBe(`built at ${FIXED_EPOCH + 60}\n`);
    const ref = record.attestations.find((a) => a.kind === 'provenance')!;
    const { statement } = verifyStatementEnvelope(
      parseEnvelope(await client.attestation(record.id, ref.sha256)),
      { keys: [publicKeyFromPem(line.identity.publicKeyPem)] },
    );
    const provenance = provenanceOf(statement);
    expect(provenance.buildDefinition.buildType).toBe(COMMAND_BUILD_TYPE);
    expect(provenance.buildDefinition.internalParameters).toMatchObject({
      isolated: sandbox.kind === 'bubblewrap',
      sandbox: { kind: sandbox.kind },
    });
    const linkRef = record.attestations.find((a) => a.kind === 'link')!;
    const link = parseLinkMetablock(await client.attestation(record.id, linkRef.sha256));
    expect(link.signed.command[0]).toBe('sh');
  });
});
