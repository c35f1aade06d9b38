// The rules-bundle format and the YARA engine port.
export { BundleError, type BundleErrorCode } from './errors.js';
export {
  assertSafeRelativePath,
  compareBytes,
  DEFAULT_TAR_LIMITS,
  readTar,
  writeTar,
  type TarEntry,
  type TarFile,
  type TarLimits,
} from './tar.js';
export {
  canonicalJson,
  MANIFEST_PATH,
  MANIFEST_SCHEMA,
  parseManifest,
  serializeManifest,
  type RulesManifest,
  type SelfTestCase,
} from './manifest.js';
export {
  gzipDeterministic,
  readBundle,
  runSelfTest,
  type BundleContents,
  type SelfTestResult,
} from './bundle.js';
export { declaredRules, type DeclaredRule } from './rulenames.js';
export type { CompiledRules, RuleSource, YaraEngine } from './engine.js';
export { wasmYaraEngine } from './yara-wasm.js';
