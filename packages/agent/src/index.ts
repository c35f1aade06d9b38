// The endpoint agent's public API; each module adds its exports here.
export * from './errors.js';
