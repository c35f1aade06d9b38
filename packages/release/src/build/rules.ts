// The rules build: its options and results (rules/types.ts), run in a build process of its own (rules/job.ts).
export { buildRulesBundle } from './rules/job.js';
export {
  DEFAULT_RULES_LIMITS,
  type CrossCheck,
  type DebianYaraMode,
  type RulesBuildOptions,
  type RulesBuildResult,
  type RulesJobOptions,
  type RulesLimits,
} from './rules/types.js';
