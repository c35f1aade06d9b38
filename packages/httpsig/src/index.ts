// The whole package: the signing side (client-entry, also published alone as
// `@glasshouse/httpsig/client`) plus the verifying and server side.
export * from './client-entry.js';
export {
  parseDictionary,
  serializeDictionary,
  serializeInnerList,
  serializeItem,
  serializeBareItem,
  type BareItem,
  type Dictionary,
  type InnerList,
  type Item,
  type Parameters,
  type SfLimits,
} from './structured.js';
export {
  DERIVED_COMPONENTS,
  signatureBase,
  signatureParamsList,
  type DerivedComponent,
  type HeaderRecord,
  type HttpRequestMessage,
  type SignatureInput,
} from './base.js';
export { ReplayCache, type ReplayCacheOptions } from './replay.js';
export {
  AllowList,
  MAX_CALLERS_FILE_BYTES,
  formatCallersFile,
  parseCallersFile,
  type Caller,
  type CallerSpec,
} from './allowlist.js';
export { RateLimiter, type RateDecision, type RateLimitOptions } from './ratelimit.js';
export {
  REFUSAL_STATUS,
  guardServer,
  parseBodiesAsBytes,
  readBody,
  verifiedSha256,
  rateLimit,
  requestMessage,
  requireSignedWrites,
  routeOf,
  writeCaller,
  type GuardOptions,
  type RateLimitHookOptions,
  type RefusalFormat,
  type SignedWrites,
  type SignedWritesOptions,
  type WriteCaller,
  type WriterPolicy,
} from './server.js';
