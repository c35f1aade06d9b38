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
  checkSelfTestCase,
  gzipDeterministic,
  readBundle,
  readTarArchive,
  runSelfTest,
  selfTestResult,
  selfTestSources,
  type BundleContents,
  type SelfTestResult,
} from './bundle.js';
export { declaredRules, type DeclaredRule } from './rulenames.js';
export {
  DEFAULT_SCAN_LIMITS,
  matchedRuleNames,
  resolveScanLimits,
  type CompiledRules,
  type EngineBinding,
  type RuleMatch,
  type RuleSource,
  type ScanLimits,
  type ScanResult,
  type YaraEngine,
} from './engine.js';
export {
  NATIVE_PACKAGE,
  NATIVE_PACKAGE_VERSION,
  NATIVE_YARA_X_VERSION,
  nativeYaraEngine,
} from './yara-native.js';
export { wasmYaraEngine } from './yara-wasm.js';
export {
  requireScanTimeout,
  selectYaraEngine,
  type EngineChoice,
  type EngineSelection,
} from './yara-engine.js';
export {
  childModuleArgs,
  EngineProcess,
  scanProcessesFor,
  type EngineDescription,
  type EngineProcessOptions,
  type EngineProcessRequest,
} from './engine-process.js';
