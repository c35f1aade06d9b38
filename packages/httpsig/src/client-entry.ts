// The signing side alone, for clients such as the endpoint agent: importing
// it loads no server code (fastify, prom-client), unlike the package index.
export { HttpSigError, type HttpSigErrorCode } from './errors.js';
export {
  BodyDigester,
  claimedAlgorithms,
  contentDigest,
  parseContentDigest,
  verifyContentDigest,
} from './digest.js';
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
export {
  DEFAULT_TAG,
  RequestSigner,
  SIGNED_COMPONENTS,
  signedFetch,
  type RequestSignerOptions,
  type RequestToSign,
} from './client.js';
