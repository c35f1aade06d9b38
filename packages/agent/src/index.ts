// The endpoint agent's public API; each module adds its exports here.
export * from './errors.js';
export * from './config.js';
export * from './state.js';
export * from './versions.js';
export * from './tuf.js';
export * from './supervisor-keys.js';
export * from './release-log.js';
export * from './attestations.js';
export * from './install.js';
export * from './update.js';
export * from './status.js';
export * from './scan.js';
