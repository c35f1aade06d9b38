// Distribution's public API; each module adds its exports here.
export * from './errors.js';
export * from './release-log.js';
export * from './release-log-checker.js';
