// The assembly line's public API; each module adds its exports here.
export * from './errors.js';
// The record types the assembly line's API hands out.
export type {
  ArtifactRef,
  AttestationKind,
  AttestationRef,
  PublicKeyInfo,
  ReleaseRecord,
  ReleaseStatus,
} from '@glasshouse/release-format';
export * from './recipe.js';
export * from './debian-yara.js';
export * from './rules.js';
export * from './sandbox.js';
export * from './git.js';
export * from './provenance.js';
export * from './recipe-build.js';
export * from './assembly-store.js';
export * from './assembly.js';
export * from './assembly-server.js';
export * from './assembly-client.js';
export * from './rebuild-diff.js';
export * from './supervision.js';
export * from './supervisor.js';
export * from './release-kit.js';
