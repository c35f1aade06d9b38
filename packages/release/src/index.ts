// The assembly line's public API, by name: build/ (recipes, the sandbox, the
// rules build), vendor/ (the assembly line, its server and client, release
// kits) and supervisor/ (review, rebuild, approval).
export { ReleaseError, type ReleaseErrorCode } from './errors.js';
// The record types the assembly line's API hands out.
export type {
  ArtifactRef,
  AttestationKind,
  AttestationRef,
  PublicKeyInfo,
  ReleaseRecord,
  ReleaseStatus,
} from '@glasshouse/release-format';

// build/
export {
  MAX_RECIPE_BYTES,
  parseRecipe,
  RECIPE_FILE,
  RECIPE_SCHEMA,
  type CommandRecipe,
  type VerdictsRecipe,
  type Recipe,
  type RulesRecipe,
} from './build/recipe.js';
export {
  DEFAULT_DEBIAN_YARA,
  detectDebianYara,
  run,
  type DebianYaraPaths,
  type ExecResult,
} from './build/debian-yara.js';
export {
  buildRulesBundle,
  DEFAULT_RULES_LIMITS,
  type CrossCheck,
  type DebianYaraMode,
  type RulesBuildOptions,
  type RulesBuildResult,
  type RulesLimits,
} from './build/rules.js';
export {
  detectSandbox,
  runBuild,
  type BuildRequest,
  type BuildResult,
  type DetectSandboxOptions,
  type SandboxInfo,
} from './build/sandbox.js';
export {
  checkCommitSha,
  checkoutCommit,
  MAX_SOURCE_OBJECT_BYTES,
  normalizeSourceUri,
  readSourceObject,
  type Checkout,
  type CheckoutOptions,
  type SourceObjectOptions,
} from './build/git.js';
export {
  buildProvenanceStatement,
  buildStepLink,
  COMMAND_BUILD_TYPE,
  DEFAULT_BUILDER_ID,
  linkCommand,
  RULES_BUILD_TYPE,
  VERDICTS_BUILD_TYPE,
  signBuildStepLink,
  signProvenance,
  type BuildFacts,
  type BuiltArtifact,
} from './build/provenance.js';
export {
  buildRecipeAtCommit,
  checkoutsRemoved,
  type RecipeBuildOptions,
  type RecipeBuildResult,
} from './build/recipe-build.js';
export { productFilesArtifact } from './build/product-files.js';

// vendor/
export {
  AssemblyLine,
  newReleaseId,
  openAssemblyLine,
  type OpenAssemblyOptions,
} from './vendor/assembly.js';
export {
  ASSEMBLY_CONFIG_FILE,
  initAssemblyDir,
  LAYOUT_KEY_FILE,
  type BuilderIdentity,
  type InitAssemblyOptions,
} from './vendor/directory.js';
export { buildAssemblyServer, type AssemblyServerOptions } from './vendor/assembly-server.js';
export { AssemblyClient, type BuilderKeyInfo } from './vendor/assembly-client.js';
export {
  fetchReleaseKit,
  inTotoVerifyArgs,
  verifyReleaseKit,
  writeReleaseKit,
  type ReleaseKit,
} from './vendor/release-kit.js';

// supervisor/
export {
  compareArtifacts,
  differingFiles,
  runDiffoscope,
  type ArtifactDifference,
  type DiffoscopeOptions,
} from './supervisor/rebuild-diff.js';
export {
  approvalStatement,
  rebuildVsaStatement,
  signSupervisorStatement,
  type ApprovalPolicy,
  type MismatchPredicate,
} from './supervisor/supervision.js';
export {
  planApproval,
  type ApprovalPlan,
  type ApprovalPlanInput,
} from './supervisor/approval-plan.js';
export type { AssemblyApi } from './supervisor/assembly-api.js';
export {
  initSupervisorDir,
  readSupervisorRecords,
  SUPERVISOR_CONFIG_FILE,
  SUPERVISOR_KEY_FILE,
  type InitSupervisorOptions,
  type PinnedBuilder,
  type SupervisorConfig,
  type SupervisorIdentity,
  type SupervisorRecord,
} from './supervisor/directory.js';
export {
  openSupervisor,
  Supervisor,
  type OpenSupervisorOptions,
  type RebuildApproval,
  type ReviewResult,
} from './supervisor/supervisor.js';
