import { describe, expect, it } from 'vitest';
import { parseEnvelope, serializeEnvelope } from '../src/dsse.js';
import { signingKeyFromSeed } from '../src/keys.js';
import {
  SLSA_PROVENANCE_V1,
  SLSA_VSA_V1,
  buildProvenance,
  buildVerificationSummary,
  provenanceOf,
  provenanceStatement,
  validateProvenance,
  validateVerificationSummary,
  verificationSummaryOf,
  verificationSummaryStatement,
  verifyProvenance,
  verifyVerificationSummary,
} from '../src/slsa.js';
import { signStatement, verifyStatementEnvelope, verifySubject } from '../src/statement.js';
import { codeOf } from '../../errors/test/codes.js';

const ARTIFACT = 'a'.repeat(64);
const builderKey = signingKeyFromSeed(new Uint8Array(32).fill(1));
const supervisorKey = signingKeyFromSeed(new Uint8Array(32).fill(2));

const provenance = buildProvenance({
  buildType: 'https://glasshouse.example/recipe/rules/v1',
  externalParameters: { source: 'git+https://git.example/rules', recipe: 'recipe.json' },
  internalParameters: { isolated: true },
  resolvedDependencies: [
    { uri: 'git+https://git.example/rules', digest: { gitCommit: 'c'.repeat(40) } },
  ],
  builder: { id: 'https://vendor.example/assembly-line/v1', version: { node: '20.20.0' } },
  invocationId: 'release-1',
  startedOn: new Date('2025-01-02T03:04:05Z'),
  finishedOn: new Date('2025-01-02T03:04:06.5Z'),
  byproducts: [{ name: 'build.log', digest: { sha256: 'b'.repeat(64) } }],
});

const vsa = buildVerificationSummary({
  verifierId: 'https://supervisor.example/rebuilder/v1',
  timeVerified: new Date('2025-01-02T04:00:00Z'),
  resourceUri: 'https://vendor.example/releases/app.tgz',
  policy: { uri: 'https://supervisor.example/policy/v1', digest: { sha256: 'd'.repeat(64) } },
  inputAttestations: [{ name: 'provenance.json', digest: { sha256: 'e'.repeat(64) } }],
  verificationResult: 'PASSED',
  verifiedLevels: ['SLSA_BUILD_LEVEL_2'],
  dependencyLevels: { SLSA_BUILD_LEVEL_1: 3 },
  slsaVersion: '1.0',
});

type Json = Record<string, unknown>;
/** A deep copy with `path` (dot separated) set to `value`, or deleted when undefined. */
function withField(object: unknown, path: string, value: unknown): unknown {
  const copy = structuredClone(object) as Json;
  const parts = path.split('.');
  let node: Json = copy;
  for (const part of parts.slice(0, -1)) node = node[part] as Json;
  const last = parts[parts.length - 1]!;
  if (value === undefined) Reflect.deleteProperty(node, last);
  else node[last] = value;
  return copy;
}

describe('SLSA Provenance v1', () => {
  it('builds a predicate that validates, with timestamps from arguments', () => {
    expect(validateProvenance(provenance)).toBe(provenance);
    expect(provenance.runDetails.metadata).toEqual({
      invocationId: 'release-1',
      startedOn: '2025-01-02T03:04:05Z',
      finishedOn: '2025-01-02T03:04:06.500Z',
    });
  });

  it('omits what is not given', () => {
    const minimal = buildProvenance({
      buildType: 'https://glasshouse.example/recipe/command/v1',
      externalParameters: {},
      builder: { id: 'https://vendor.example/assembly-line/v1' },
    });
    expect(minimal).toEqual({
      buildDefinition: {
        buildType: 'https://glasshouse.example/recipe/command/v1',
        externalParameters: {},
      },
      runDetails: { builder: { id: 'https://vendor.example/assembly-line/v1' } },
    });
  });

  it('treats null optional fields as unset (SLSA parsing rules)', () => {
    expect(
      codeOf(() => validateProvenance(withField(provenance, 'runDetails.metadata', null))),
    ).toBe('accepted');
  });

  it('refuses missing and mistyped fields with codes and the path', () => {
    const cases: [string, unknown, string][] = [
      ['buildDefinition', undefined, 'PREDICATE_FIELD_MISSING'],
      ['buildDefinition.buildType', undefined, 'PREDICATE_FIELD_MISSING'],
      ['buildDefinition.buildType', 'not a uri', 'PREDICATE_FIELD_INVALID'],
      ['buildDefinition.externalParameters', undefined, 'PREDICATE_FIELD_MISSING'],
      ['buildDefinition.externalParameters', 'x', 'PREDICATE_FIELD_INVALID'],
      ['buildDefinition.internalParameters', [], 'PREDICATE_FIELD_INVALID'],
      ['buildDefinition.resolvedDependencies', {}, 'PREDICATE_FIELD_INVALID'],
      ['buildDefinition.resolvedDependencies', [{ name: 'x' }], 'PREDICATE_FIELD_MISSING'],
      ['runDetails', undefined, 'PREDICATE_FIELD_MISSING'],
      ['runDetails.builder', undefined, 'PREDICATE_FIELD_MISSING'],
      ['runDetails.builder.id', undefined, 'PREDICATE_FIELD_MISSING'],
      ['runDetails.builder.id', 7, 'PREDICATE_FIELD_INVALID'],
      ['runDetails.builder.version', { node: 20 }, 'PREDICATE_FIELD_INVALID'],
      ['runDetails.metadata.startedOn', '2025-01-02 03:04:05', 'PREDICATE_FIELD_INVALID'],
      ['runDetails.metadata.startedOn', '2025-02-30T00:00:00Z', 'PREDICATE_FIELD_INVALID'],
      ['runDetails.metadata.finishedOn', '2025-01-02T03:04:05+01:00', 'PREDICATE_FIELD_INVALID'],
      ['runDetails.metadata.invocationId', 5, 'PREDICATE_FIELD_INVALID'],
      ['runDetails.byproducts', [{ digest: { sha256: 'xyz' } }], 'PREDICATE_FIELD_INVALID'],
    ];
    for (const [path, value, code] of cases) {
      const bad = withField(provenance, path, value);
      expect(
        codeOf(() => validateProvenance(bad)),
        path,
      ).toBe(code);
    }
  });

  it('is signed by the builder and verified with its public key only', () => {
    const statement = provenanceStatement(
      [{ name: 'app.tgz', digest: { sha256: ARTIFACT } }],
      provenance,
    );
    const text = serializeEnvelope(signStatement(statement, [builderKey]));
    const { statement: verified } = verifyStatementEnvelope(parseEnvelope(text), {
      keys: [builderKey.verifier],
      predicateType: SLSA_PROVENANCE_V1,
    });
    verifySubject(verified, 'app.tgz', { sha256: ARTIFACT });
    const predicate = provenanceOf(verified);
    expect(predicate).toEqual(provenance);
    expect(
      codeOf(() => {
        verifyProvenance(predicate, {
          builderId: 'https://vendor.example/assembly-line/v1',
          buildType: 'https://glasshouse.example/recipe/rules/v1',
        });
      }),
    ).toBe('accepted');
    expect(
      codeOf(() => {
        verifyProvenance(predicate, { builderId: 'https://other.example/' });
      }),
    ).toBe('PROVENANCE_BUILDER_MISMATCH');
    expect(
      codeOf(() => {
        verifyProvenance(predicate, {
          builderId: 'https://vendor.example/assembly-line/v1',
          buildType: 'https://other.example/',
        });
      }),
    ).toBe('PROVENANCE_BUILD_TYPE_MISMATCH');
    expect(codeOf(() => verificationSummaryOf(verified))).toBe('STATEMENT_PREDICATE_TYPE_MISMATCH');
  });
});

describe('SLSA Verification Summary v1', () => {
  it('builds a predicate that validates', () => {
    expect(validateVerificationSummary(vsa)).toBe(vsa);
    expect(vsa.timeVerified).toBe('2025-01-02T04:00:00Z');
  });

  it('refuses missing and mistyped fields with codes', () => {
    const cases: [string, unknown, string][] = [
      ['verifier', undefined, 'PREDICATE_FIELD_MISSING'],
      ['verifier.id', undefined, 'PREDICATE_FIELD_MISSING'],
      ['timeVerified', undefined, 'PREDICATE_FIELD_MISSING'],
      ['timeVerified', 'yesterday', 'PREDICATE_FIELD_INVALID'],
      ['resourceUri', undefined, 'PREDICATE_FIELD_MISSING'],
      ['policy', undefined, 'PREDICATE_FIELD_MISSING'],
      ['policy', { digest: { sha256: 'd'.repeat(64) } }, 'PREDICATE_FIELD_MISSING'],
      ['inputAttestations', [{ uri: 'https://x.example/a' }], 'PREDICATE_FIELD_MISSING'],
      ['verificationResult', undefined, 'PREDICATE_FIELD_MISSING'],
      ['verificationResult', 'OK', 'PREDICATE_FIELD_INVALID'],
      ['verifiedLevels', undefined, 'PREDICATE_FIELD_MISSING'],
      ['verifiedLevels', 'SLSA_BUILD_LEVEL_2', 'PREDICATE_FIELD_INVALID'],
      ['verifiedLevels', ['SLSA_BUILD_LEVEL_2', 'SLSA_BUILD_LEVEL_3'], 'PREDICATE_FIELD_INVALID'],
      ['verifiedLevels', ['SLSA_CUSTOM'], 'PREDICATE_FIELD_INVALID'],
      ['dependencyLevels', { SLSA_BUILD_LEVEL_1: -1 }, 'PREDICATE_FIELD_INVALID'],
      ['dependencyLevels', { SLSA_BUILD_LEVEL_1: 1.5 }, 'PREDICATE_FIELD_INVALID'],
      ['slsaVersion', '1', 'PREDICATE_FIELD_INVALID'],
    ];
    for (const [path, value, code] of cases) {
      expect(
        codeOf(() => validateVerificationSummary(withField(vsa, path, value))),
        path,
      ).toBe(code);
    }
    // Custom results that do not start with SLSA_ are allowed.
    expect(
      codeOf(() => validateVerificationSummary(withField(vsa, 'verifiedLevels', ['FAILED']))),
    ).toBe('accepted');
  });

  it('is signed by the supervisor and checked with its public key only', () => {
    const statement = verificationSummaryStatement(
      [{ name: 'app.tgz', digest: { sha256: ARTIFACT } }],
      vsa,
    );
    const text = serializeEnvelope(signStatement(statement, [supervisorKey]));
    const { statement: verified } = verifyStatementEnvelope(parseEnvelope(text), {
      keys: [supervisorKey.verifier],
      predicateType: SLSA_VSA_V1,
    });
    const predicate = verificationSummaryOf(verified);
    const expect1 = { verifierId: 'https://supervisor.example/rebuilder/v1' };
    expect(
      codeOf(() => {
        verifyVerificationSummary(predicate, expect1);
      }),
    ).toBe('accepted');
    expect(
      codeOf(() => {
        verifyVerificationSummary(predicate, { ...expect1, minimumLevel: 'SLSA_BUILD_LEVEL_1' });
      }),
    ).toBe('accepted');
    expect(
      codeOf(() => {
        verifyVerificationSummary(predicate, { ...expect1, minimumLevel: 'SLSA_BUILD_LEVEL_3' });
      }),
    ).toBe('VSA_LEVEL_NOT_MET');
    expect(
      codeOf(() => {
        verifyVerificationSummary(predicate, { verifierId: 'https://x.example/' });
      }),
    ).toBe('VSA_VERIFIER_MISMATCH');
    expect(
      codeOf(() => {
        verifyVerificationSummary(predicate, { ...expect1, resourceUri: 'https://x.example/' });
      }),
    ).toBe('VSA_RESOURCE_MISMATCH');
    const failed = {
      ...predicate,
      verificationResult: 'FAILED' as const,
      verifiedLevels: ['FAILED'],
    };
    expect(
      codeOf(() => {
        verifyVerificationSummary(failed, expect1);
      }),
    ).toBe('VSA_NOT_PASSED');
    // The builder's key does not verify the supervisor's VSA.
    expect(
      codeOf(() => verifyStatementEnvelope(parseEnvelope(text), { keys: [builderKey.verifier] })),
    ).toBe('ENVELOPE_THRESHOLD_NOT_MET');
  });
});
