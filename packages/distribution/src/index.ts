// Distribution's public API; each module adds its exports here.
export * from './errors.js';
export * from './release-log-checker.js';
export * from './tuf-keys.js';
export * from './tuf-metadata.js';
export * from './tuf-repo.js';
export * from './targets-checks.js';
export * from './supervisor-tuf.js';
export * from './repo-service.js';
export * from './repo-server.js';
export * from './repo-client.js';
export * from './repo-monitor.js';
