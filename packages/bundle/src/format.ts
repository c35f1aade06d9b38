// The pure part of the rules-bundle format (no engine, no zlib): what a
// browser reads of a bundle. `@glasshouse/bundle/format`.
export { BundleError, type BundleErrorCode } from './errors.js';
export { DEFAULT_TAR_LIMITS, readTar, type TarFile, type TarLimits } from './tar.js';
export { MANIFEST_PATH, parseManifest, type RulesManifest } from './manifest.js';
export { declaredRules, type DeclaredRule } from './rulenames.js';
