/**
 * A vendor verdict list as a release kind: built by the assembly line from
 * its plain-text sources, rebuilt by the supervisor to the same bytes and
 * approved, with provenance naming the verdicts build type; a source that
 * contradicts itself fails the build with the file and line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvelope } from '@glasshouse/attest';
import { parseVerdictList, verdictListName } from '@glasshouse/release-format';
import { VERDICTS_BUILD_TYPE, parseRecipe } from '../src/index.js';
import { codeOf } from '../../errors/test/codes.js';
import { FIXED_EPOCH } from './assembly-fixtures.js';
import { startSupervised, type Supervised } from './supervised-fixture.js';

const BAD = 'b'.repeat(64);
const GOOD = 'a'.repeat(64);
const recipe = (version: string): string =>
  `${JSON.stringify({
    schema: 'glasshouse.recipe/v1',
    kind: 'verdicts',
    name: 'demo-verdicts',
    version,
    inputs: { lists: 'verdicts' },
  })}\n`;

let env: Supervised;

beforeAll(async () => {
  env = await startSupervised({ requireReview: false, reviewers: [] });
}, 60_000);

afterAll(async () => {
  await env.close();
});

describe('a verdicts release', () => {
  it('parses the recipe kind and refuses unknown inputs', () => {
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(parseRecipe(enc(recipe('1.0.0')))).toMatchObject({
      kind: 'verdicts',
      inputs: { lists: 'verdicts' },
    });
    const extra = JSON.parse(recipe('1.0.0')) as { inputs: Record<string, string> };
    extra.inputs.rules = 'rules';
    expect(codeOf(() => parseRecipe(enc(JSON.stringify(extra))))).toBe('RECIPE_UNKNOWN_FIELD');
    expect(codeOf(() => parseRecipe(enc(recipe('1.0.0').replace('"verdicts"}', '"../x"}'))))).toBe(
      'RECIPE_BAD_PATH',
    );
  });

  it('builds the canonical list, is rebuilt to the same bytes and approved', async () => {
    const supervisor = await env.openSupervisor();
    const commit = await env.repo.commit(
      {
        'glasshouse-recipe.json': recipe('1.0.0'),
        'verdicts/droppers.txt': `# known droppers\n${BAD} known-bad\n`,
        'verdicts/allow/installers.txt': `${GOOD} known-good  # the vendor's own installer\n`,
        'verdicts/README.md': 'not a list: ignored\n',
      },
      { epoch: FIXED_EPOCH + 400 },
    );
    const built = await env.client.build(env.repo.dir, commit);
    const name = verdictListName({ name: 'demo-verdicts', version: '1.0.0' });
    expect(built.kind).toBe('verdicts');
    expect(built.artifacts.map((a) => a.name)).toEqual([name]);
    const bytes = await env.client.artifact(built.id, name);
    expect(parseVerdictList(bytes, { name: 'demo-verdicts', version: '1.0.0' }).verdicts).toEqual([
      { sha256: GOOD, verdict: 'known-good' },
      { sha256: BAD, verdict: 'known-bad' },
    ]);
    const ref = built.attestations.find((a) => a.kind === 'provenance');
    expect(ref).toBeDefined();
    const envelope = parseEnvelope(await env.client.attestation(built.id, ref?.sha256 ?? ''));
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
      predicate: { buildDefinition: { buildType: string } };
    };
    expect(statement.predicate.buildDefinition.buildType).toBe(VERDICTS_BUILD_TYPE);
    const approved = await supervisor.rebuild(env.client, built.id);
    expect(approved.record.status).toBe('approved');
  }, 120_000);

  it('fails the build on a contradiction, naming both lines', async () => {
    const commit = await env.repo.commit(
      {
        'glasshouse-recipe.json': recipe('1.0.1'),
        'verdicts/a.txt': `${BAD} known-bad\n`,
        'verdicts/b.txt': `\n${BAD} known-good\n`,
      },
      { epoch: FIXED_EPOCH + 500 },
    );
    const err = await env.client.build(env.repo.dir, commit).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'VERDICTS_INVALID' });
    expect((err as Error).message).toMatch(/verdicts\/b\.txt:2.*verdicts\/a\.txt:1/);
  }, 60_000);
});
