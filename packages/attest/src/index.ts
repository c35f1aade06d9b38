export * from './errors.js';
export * from './canonical.js';
export * from './keys.js';
export * from './dsse.js';
export * from './statement.js';
export * from './slsa.js';
export * from './legacy.js';
export { formatTimestamp, isTimestamp } from './fields.js';
export { sha256Hex } from './digest.js';
