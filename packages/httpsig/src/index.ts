export { HttpSigError, type HttpSigErrorCode } from './errors.js';
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
export { BodyDigester, contentDigest, parseContentDigest, verifyContentDigest } from './digest.js';
export { ed25519PrivateKey, ed25519PublicKey, jwkThumbprint, rawPublicKey } from './keys.js';
export {
  ALGORITHM,
  signInput,
  signRequest,
  verifyRequest,
  type ClaimedSignature,
  type SignOptions,
  type SignatureFields,
  type SignatureParams,
  type VerifiedSignature,
  type VerifyOptions,
} from './signature.js';
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
  DEFAULT_TAG,
  RequestSigner,
  SIGNED_COMPONENTS,
  signedFetch,
  type RequestSignerOptions,
  type RequestToSign,
} from './client.js';
export {
  REFUSAL_STATUS,
  guardServer,
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
