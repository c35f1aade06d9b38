import { describe, expect, it } from 'vitest';
import {
  generateSigningKey,
  provenanceOf,
  verifyMetablockSignature,
  verifyStatementEnvelope,
} from '@glasshouse/attest';
import {
  buildStepLink,
  COMMAND_BUILD_TYPE,
  linkCommand,
  signBuildStepLink,
  signProvenance,
  type BuildFacts,
} from '../src/build/provenance.js';
import { parseRecipe, type Recipe } from '../src/build/recipe.js';

const recipe: Recipe = parseRecipe(
  Buffer.from(
    JSON.stringify({
      schema: 'glasshouse.recipe/v1',
      kind: 'command',
      name: 'agent',
      version: '2.1.0',
      commands: [
        ['npm', 'ci', '--offline'],
        ['npm', 'pack'],
      ],
      outputs: ['agent.tgz'],
    }),
  ),
);
const artifacts = [{ name: 'agent.tgz', sha256: 'a'.repeat(64), size: 3 }];

describe('provenance and link', () => {
  it('joins several commands with "&&" elements in the link', () => {
    expect(linkCommand(recipe)).toEqual(['npm', 'ci', '--offline', '&&', 'npm', 'pack']);
  });

  it('signs both with the builder key', () => {
    const key = generateSigningKey(new Uint8Array(32).fill(7));
    const facts: BuildFacts = {
      releaseId: '0000000000aaaaaaaaaaaaaaaa',
      builderId: 'https://builder.example.org',
      source: { uri: 'https://git.example.org/agent.git', commit: 'b'.repeat(40) },
      recipe,
      recipeFile: { path: 'glasshouse-recipe.json', sha256: 'c'.repeat(64) },
      sourceDateEpoch: 1_700_000_000,
      artifacts,
      isolated: true,
      sandbox: { kind: 'bubblewrap', version: '0.8.0' },
      engines: {},
      nodeVersion: 'v20.20.0',
      startedOn: new Date('2024-01-01T00:00:00Z'),
      finishedOn: new Date('2024-01-01T00:01:00Z'),
    };
    const { statement } = verifyStatementEnvelope(signProvenance(facts, key), {
      keys: [key.verifier],
    });
    const p = provenanceOf(statement);
    expect(p.buildDefinition.buildType).toBe(COMMAND_BUILD_TYPE);
    expect(p.buildDefinition.resolvedDependencies?.[0]).toEqual({
      uri: 'git+https://git.example.org/agent.git',
      digest: { gitCommit: 'b'.repeat(40) },
    });
    expect(p.buildDefinition.resolvedDependencies?.at(-1)).toEqual({
      name: 'node',
      uri: 'pkg:generic/node@20.20.0',
    });
    expect(p.runDetails.metadata).toEqual({
      invocationId: facts.releaseId,
      startedOn: '2024-01-01T00:00:00Z',
      finishedOn: '2024-01-01T00:01:00Z',
    });

    const link = signBuildStepLink(
      buildStepLink(recipe, { 'package.json': 'd'.repeat(64) }, artifacts),
      key,
    );
    verifyMetablockSignature(link.metablock, key.verifier);
    expect(link.fileName).toBe(`build.${key.keyid.slice(0, 8)}.link`);
    expect(link.metablock.signed.materials).toEqual({ 'package.json': { sha256: 'd'.repeat(64) } });
  });
});
