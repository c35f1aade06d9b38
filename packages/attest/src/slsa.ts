/**
 * SLSA v1.0 predicates: Provenance (slsa.dev/provenance/v1, docs/spec/v1.0/
 * provenance.md) and the Verification Summary Attestation (slsa.dev/
 * verification_summary/v1, docs/spec/v1.0/verification_summary.md).
 *
 * Builders take every value as an argument (times included) and return a
 * validated predicate; validators check field presence and types and keep
 * unknown fields (parsing rules: consumers ignore them). "Unset, null, and
 * empty field values MUST be interpreted equivalently", so `null` optional
 * fields are treated as absent.
 */
import { AttestError } from './errors.js';
import {
  type Fail,
  formatTimestamp,
  isUnset,
  optionalObject,
  optionalResourceDescriptors,
  optionalString,
  optionalTimestamp,
  requireDigestSet,
  requireObject,
  requireResourceDescriptor,
  requireString,
  requireTimestamp,
  requireUri,
} from './fields.js';
import {
  type ResourceDescriptor,
  type Statement,
  type Subject,
  buildStatement,
  predicateObject,
} from './statement.js';

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const SLSA_VSA_V1 = 'https://slsa.dev/verification_summary/v1';

export interface ProvenanceV1 {
  buildDefinition: BuildDefinition;
  runDetails: RunDetails;
}

export interface BuildDefinition {
  buildType: string;
  externalParameters: Record<string, unknown>;
  internalParameters?: Record<string, unknown>;
  resolvedDependencies?: ResourceDescriptor[];
}

export interface RunDetails {
  builder: Builder;
  metadata?: BuildMetadata;
  byproducts?: ResourceDescriptor[];
}

export interface Builder {
  id: string;
  version?: Record<string, string>;
  builderDependencies?: ResourceDescriptor[];
}

export interface BuildMetadata {
  invocationId?: string;
  /** RFC 3339 UTC */
  startedOn?: string;
  /** RFC 3339 UTC */
  finishedOn?: string;
}

export type VerificationResult = 'PASSED' | 'FAILED';

export interface VerificationSummaryV1 {
  verifier: { id: string };
  timeVerified: string;
  resourceUri: string;
  policy: ResourceDescriptor & { uri: string };
  inputAttestations?: (ResourceDescriptor & { digest: Record<string, string> })[];
  verificationResult: VerificationResult;
  verifiedLevels: string[];
  dependencyLevels?: Record<string, number>;
  slsaVersion?: string;
}

export interface ProvenanceInput {
  buildType: string;
  externalParameters: Record<string, unknown>;
  internalParameters?: Record<string, unknown>;
  resolvedDependencies?: ResourceDescriptor[];
  builder: Builder;
  invocationId?: string;
  startedOn?: Date;
  finishedOn?: Date;
  byproducts?: ResourceDescriptor[];
}

export interface VerificationSummaryInput {
  verifierId: string;
  timeVerified: Date;
  resourceUri: string;
  policy: ResourceDescriptor & { uri: string };
  inputAttestations?: (ResourceDescriptor & { digest: Record<string, string> })[];
  verificationResult: VerificationResult;
  verifiedLevels: string[];
  dependencyLevels?: Record<string, number>;
  slsaVersion?: string;
}

// verification_summary.md SlsaResult: SLSA_<TRACK>_LEVEL_<n>; custom values
// "MUST NOT" start with SLSA_.
const SLSA_LEVEL = /^SLSA_([A-Z]+)_LEVEL_(\d+)$/;
const SLSA_VERSION = /^\d+\.\d+$/;

function failFor(predicateType: string): Fail {
  return (kind, path, reason) => {
    throw new AttestError(
      kind === 'missing' ? 'PREDICATE_FIELD_MISSING' : 'PREDICATE_FIELD_INVALID',
      `${path}: ${reason}`,
      { evidence: { predicateType, path } },
    );
  };
}

const provenanceFail = failFor(SLSA_PROVENANCE_V1);
const vsaFail = failFor(SLSA_VSA_V1);

/** A validated Provenance v1 predicate from its parts; absent parts are omitted. */
export function buildProvenance(input: ProvenanceInput): ProvenanceV1 {
  const buildDefinition: BuildDefinition = {
    buildType: input.buildType,
    externalParameters: input.externalParameters,
  };
  if (input.internalParameters !== undefined) {
    buildDefinition.internalParameters = input.internalParameters;
  }
  if (input.resolvedDependencies !== undefined) {
    buildDefinition.resolvedDependencies = input.resolvedDependencies;
  }
  const runDetails: RunDetails = { builder: input.builder };
  const metadata: BuildMetadata = {};
  if (input.invocationId !== undefined) metadata.invocationId = input.invocationId;
  if (input.startedOn !== undefined) metadata.startedOn = formatTimestamp(input.startedOn);
  if (input.finishedOn !== undefined) metadata.finishedOn = formatTimestamp(input.finishedOn);
  if (Object.keys(metadata).length > 0) runDetails.metadata = metadata;
  if (input.byproducts !== undefined) runDetails.byproducts = input.byproducts;
  const provenance = { buildDefinition, runDetails };
  validateProvenance(provenance);
  return provenance;
}

/** Checks a Provenance v1 predicate (provenance.md "Schema"). */
export function validateProvenance(value: unknown): ProvenanceV1 {
  const f = provenanceFail;
  const p = requireObject(value, 'predicate', f);
  // provenance.md Provenance: "REQUIRED for SLSA Build L1: buildDefinition, runDetails"
  const bd = requireObject(p.buildDefinition, 'buildDefinition', f);
  // BuildDefinition: "REQUIRED for SLSA Build L1: buildType, externalParameters"
  requireUri(bd.buildType, 'buildDefinition.buildType', f);
  requireObject(bd.externalParameters, 'buildDefinition.externalParameters', f);
  optionalObject(bd.internalParameters, 'buildDefinition.internalParameters', f);
  optionalResourceDescriptors(bd.resolvedDependencies, 'buildDefinition.resolvedDependencies', f);
  const rd = requireObject(p.runDetails, 'runDetails', f);
  // RunDetails: "REQUIRED for SLSA Build L1: builder"; Builder: "REQUIRED: id"
  const builder = requireObject(rd.builder, 'runDetails.builder', f);
  requireUri(builder.id, 'runDetails.builder.id', f);
  // Builder.version: map (string→string)
  const version = optionalObject(builder.version, 'runDetails.builder.version', f);
  for (const [name, v] of Object.entries(version ?? {})) {
    if (typeof v !== 'string') f('invalid', `runDetails.builder.version.${name}`, 'not a string');
  }
  optionalResourceDescriptors(
    builder.builderDependencies,
    'runDetails.builder.builderDependencies',
    f,
  );
  const metadata = optionalObject(rd.metadata, 'runDetails.metadata', f);
  if (metadata !== undefined) {
    optionalString(metadata.invocationId, 'runDetails.metadata.invocationId', f);
    optionalTimestamp(metadata.startedOn, 'runDetails.metadata.startedOn', f);
    optionalTimestamp(metadata.finishedOn, 'runDetails.metadata.finishedOn', f);
  }
  optionalResourceDescriptors(rd.byproducts, 'runDetails.byproducts', f);
  return p as unknown as ProvenanceV1;
}

/** A validated VSA v1 predicate from its parts. */
export function buildVerificationSummary(input: VerificationSummaryInput): VerificationSummaryV1 {
  const vsa: VerificationSummaryV1 = {
    verifier: { id: input.verifierId },
    timeVerified: formatTimestamp(input.timeVerified),
    resourceUri: input.resourceUri,
    policy: input.policy,
    verificationResult: input.verificationResult,
    verifiedLevels: input.verifiedLevels,
  };
  if (input.inputAttestations !== undefined) vsa.inputAttestations = input.inputAttestations;
  if (input.dependencyLevels !== undefined) vsa.dependencyLevels = input.dependencyLevels;
  if (input.slsaVersion !== undefined) vsa.slsaVersion = input.slsaVersion;
  validateVerificationSummary(vsa);
  return vsa;
}

/** Checks a VSA v1 predicate (verification_summary.md "Fields"). */
export function validateVerificationSummary(value: unknown): VerificationSummaryV1 {
  const f = vsaFail;
  const p = requireObject(value, 'predicate', f);
  // verifier: object, required; verifier.id: TypeURI, required.
  const verifier = requireObject(p.verifier, 'verifier', f);
  requireUri(verifier.id, 'verifier.id', f);
  requireTimestamp(p.timeVerified, 'timeVerified', f);
  requireUri(p.resourceUri, 'resourceUri', f);
  // policy: ResourceDescriptor, required; "The entry MUST contain a uri".
  const policy = requireResourceDescriptor(p.policy, 'policy', f);
  requireUri(policy.uri, 'policy.uri', f);
  // inputAttestations: optional; "Each entry MUST contain a digest".
  const inputs = optionalResourceDescriptors(p.inputAttestations, 'inputAttestations', f);
  inputs?.forEach((rd, i) => requireDigestSet(rd.digest, `inputAttestations[${i}].digest`, f));
  // verificationResult: "Either PASSED or FAILED".
  const result = requireString(p.verificationResult, 'verificationResult', f);
  if (result !== 'PASSED' && result !== 'FAILED') {
    f('invalid', 'verificationResult', 'not PASSED or FAILED');
  }
  checkVerifiedLevels(p.verifiedLevels, f);
  const dependencyLevels = optionalObject(p.dependencyLevels, 'dependencyLevels', f);
  for (const [level, count] of Object.entries(dependencyLevels ?? {})) {
    checkSlsaResult(level, `dependencyLevels.${level}`, f);
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      f('invalid', `dependencyLevels.${level}`, 'not a count');
    }
  }
  // slsaVersion: "in the form <MAJOR>.<MINOR>".
  const slsaVersion = optionalString(p.slsaVersion, 'slsaVersion', f);
  if (slsaVersion !== undefined && !SLSA_VERSION.test(slsaVersion)) {
    f('invalid', 'slsaVersion', 'not MAJOR.MINOR');
  }
  return p as unknown as VerificationSummaryV1;
}

function checkVerifiedLevels(value: unknown, f: Fail): void {
  // verifiedLevels: array (SlsaResult), required.
  if (isUnset(value)) f('missing', 'verifiedLevels', 'required');
  if (!Array.isArray(value)) f('invalid', 'verifiedLevels', 'not an array');
  const tracks = new Set<string>();
  value.forEach((level: unknown, i) => {
    const path = `verifiedLevels[${i}]`;
    if (typeof level !== 'string' || level === '') f('invalid', path, 'not a string');
    const track = checkSlsaResult(level, path, f);
    // "Users MUST NOT include more than one level per SLSA track."
    if (track !== undefined) {
      if (tracks.has(track)) f('invalid', path, 'a second level of the same track');
      tracks.add(track);
    }
  });
}

/** Returns the track of a SLSA_<TRACK>_LEVEL_<n> value, undefined for custom values. */
function checkSlsaResult(level: string, path: string, f: Fail): string | undefined {
  const m = SLSA_LEVEL.exec(level);
  if (m !== null) return m[1];
  // SlsaResult: custom values "MUST NOT" start with SLSA_.
  if (level.startsWith('SLSA_')) f('invalid', path, 'custom values must not start with SLSA_');
  return undefined;
}

/** An in-toto Statement carrying Provenance v1 about `subject`. */
export function provenanceStatement(
  subject: readonly Subject[],
  provenance: ProvenanceV1,
): Statement<ProvenanceV1> {
  validateProvenance(provenance);
  return buildStatement({ subject, predicateType: SLSA_PROVENANCE_V1, predicate: provenance });
}

/** An in-toto Statement carrying a VSA v1 about `subject`. */
export function verificationSummaryStatement(
  subject: readonly Subject[],
  vsa: VerificationSummaryV1,
): Statement<VerificationSummaryV1> {
  validateVerificationSummary(vsa);
  return buildStatement({ subject, predicateType: SLSA_VSA_V1, predicate: vsa });
}

/** The Provenance v1 predicate of a verified Statement, validated. */
export function provenanceOf(statement: Statement): ProvenanceV1 {
  expectPredicateType(statement, SLSA_PROVENANCE_V1);
  return validateProvenance(predicateObject(statement));
}

/** The VSA v1 predicate of a verified Statement, validated. */
export function verificationSummaryOf(statement: Statement): VerificationSummaryV1 {
  expectPredicateType(statement, SLSA_VSA_V1);
  return validateVerificationSummary(predicateObject(statement));
}

export interface ProvenanceExpectations {
  /** provenance.md: "Consumers MUST accept only specific signer-builder pairs." */
  builderId: string;
  buildType?: string;
}

/**
 * The provenance checks of SLSA verifying-artifacts that need no outside
 * data: the builder is the one expected for the signer, and the build type
 * is known. Subject matching is `verifySubject`.
 */
export function verifyProvenance(provenance: ProvenanceV1, expect: ProvenanceExpectations): void {
  if (provenance.runDetails.builder.id !== expect.builderId) {
    throw new AttestError('PROVENANCE_BUILDER_MISMATCH', 'unexpected builder.id', {
      evidence: { builderId: provenance.runDetails.builder.id, expected: expect.builderId },
    });
  }
  if (expect.buildType !== undefined && provenance.buildDefinition.buildType !== expect.buildType) {
    throw new AttestError('PROVENANCE_BUILD_TYPE_MISMATCH', 'unexpected buildType', {
      evidence: { buildType: provenance.buildDefinition.buildType, expected: expect.buildType },
    });
  }
}

export interface VerificationSummaryExpectations {
  /** verification_summary.md: "Consumers MUST accept only specific (signer, verifier) pairs." */
  verifierId: string;
  resourceUri?: string;
  /** e.g. SLSA_BUILD_LEVEL_2: the same track at this level or above must be listed. */
  minimumLevel?: string;
}

/** Checks a VSA says PASSED, comes from the expected verifier and meets a level. */
export function verifyVerificationSummary(
  vsa: VerificationSummaryV1,
  expect: VerificationSummaryExpectations,
): void {
  if (vsa.verifier.id !== expect.verifierId) {
    throw new AttestError('VSA_VERIFIER_MISMATCH', 'unexpected verifier.id', {
      evidence: { verifierId: vsa.verifier.id, expected: expect.verifierId },
    });
  }
  if (expect.resourceUri !== undefined && vsa.resourceUri !== expect.resourceUri) {
    throw new AttestError('VSA_RESOURCE_MISMATCH', 'unexpected resourceUri', {
      evidence: { resourceUri: vsa.resourceUri, expected: expect.resourceUri },
    });
  }
  if (vsa.verificationResult !== 'PASSED') {
    throw new AttestError('VSA_NOT_PASSED', 'verificationResult is not PASSED', {
      evidence: { verificationResult: vsa.verificationResult },
    });
  }
  if (expect.minimumLevel !== undefined) {
    const want = SLSA_LEVEL.exec(expect.minimumLevel);
    const met = vsa.verifiedLevels.some((level) => {
      const got = SLSA_LEVEL.exec(level);
      if (want === null || got === null) return level === expect.minimumLevel;
      // "each SLSA level implies the levels below it"
      return got[1] === want[1] && Number(got[2]) >= Number(want[2]);
    });
    if (!met) {
      throw new AttestError('VSA_LEVEL_NOT_MET', 'the required level is not verified', {
        evidence: { verifiedLevels: vsa.verifiedLevels, minimumLevel: expect.minimumLevel },
      });
    }
  }
}

function expectPredicateType(statement: Statement, predicateType: string): void {
  if (statement.predicateType !== predicateType) {
    throw new AttestError('STATEMENT_PREDICATE_TYPE_MISMATCH', 'unexpected predicate type', {
      evidence: { predicateType: statement.predicateType, expected: predicateType },
    });
  }
}
