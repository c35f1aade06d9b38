// The assembly line's public API; each module adds its exports here.
export * from './errors.js';
export * from './recipe.js';
export * from './tar.js';
export * from './manifest.js';
export * from './bundle.js';
export * from './yara.js';
export * from './rulenames.js';
export * from './rules.js';
export * from './sandbox.js';
export * from './git.js';
export * from './provenance.js';
export * from './recipe-build.js';
export * from './assembly-store.js';
export * from './assembly.js';
export * from './assembly-server.js';
export * from './assembly-client.js';
