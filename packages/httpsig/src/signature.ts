/**
 * Creating (RFC 9421 §3.1) and verifying (§3.2) one `ed25519` signature
 * (§3.3.6) of a request. Pure: time comes in as an argument, keys are
 * node:crypto KeyObjects, nothing is read or written.
 */
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { HttpSigError } from './errors.js';
import {
  paramOf,
  signatureBase,
  signatureParamsList,
  type HttpRequestMessage,
  type SignatureInput,
} from './base.js';
import {
  parseDictionary,
  serializeDictionary,
  serializeInnerList,
  type BareItem,
  type Dictionary,
  type Parameters,
} from './structured.js';

/** The one algorithm this package signs and verifies with (RFC 9421 §3.3.6). */
export const ALGORITHM = 'ed25519';

/** What a signer puts in the signature parameters (RFC 9421 §2.3). */
export interface SignatureParams {
  readonly created: number;
  readonly expires?: number;
  readonly keyid: string;
  readonly nonce: string;
  readonly tag: string;
}

export interface SignOptions {
  /** The dictionary label (RFC 9421 §4). Default "sig1". */
  readonly label?: string;
  readonly components: readonly string[];
  readonly params: SignatureParams;
  readonly privateKey: KeyObject;
}

/** The two fields a signer adds to the request (RFC 9421 §4.1, §4.2). */
export interface SignatureFields {
  readonly 'signature-input': string;
  readonly signature: string;
}

/** RFC 9421 §2.3 parameters in the order we send them, `alg` included (§2.3: the algorithm). */
function paramsOf(p: SignatureParams): Parameters {
  const out: [string, BareItem][] = [['created', { type: 'integer', value: p.created }]];
  if (p.expires !== undefined) out.push(['expires', { type: 'integer', value: p.expires }]);
  out.push(
    ['keyid', { type: 'string', value: p.keyid }],
    ['alg', { type: 'string', value: ALGORITHM }],
    ['nonce', { type: 'string', value: p.nonce }],
    ['tag', { type: 'string', value: p.tag }],
  );
  return out;
}

/** RFC 9421 §3.1: the signature base, signed with Ed25519 (§3.3.6), as the two fields. */
export function signRequest(message: HttpRequestMessage, options: SignOptions): SignatureFields {
  const label = options.label ?? 'sig1';
  const input: SignatureInput = {
    components: options.components,
    params: paramsOf(options.params),
  };
  return signInput(message, label, input, options.privateKey);
}

/** Signs an already-built signature input (used by the RFC's own examples, which omit `alg`). */
export function signInput(
  message: HttpRequestMessage,
  label: string,
  input: SignatureInput,
  privateKey: KeyObject,
): SignatureFields {
  const base = signatureBase(message, input);
  // RFC 9421 §3.3.6: Ed25519 (RFC 8032) over the signature base's bytes.
  const signature = cryptoSign(null, Buffer.from(base, 'utf8'), privateKey);
  return {
    'signature-input': serializeDictionary([[label, signatureParamsList(input)]]),
    signature: serializeDictionary([
      [label, { kind: 'item', value: { type: 'bytes', value: signature }, params: [] }],
    ]),
  };
}

export interface VerifyOptions {
  /** Unix seconds. */
  readonly now: number;
  /** The `tag` our signatures carry (RFC 9421 §2.3); other signatures are ignored. */
  readonly tag: string;
  /** How far `created` may be from `now`, in seconds, either way. */
  readonly windowSeconds: number;
  /** Components every accepted signature must cover. */
  readonly requiredComponents: readonly string[];
  /** The caller's public key for a key id, or undefined when the id is unknown. */
  readonly keyFor: (keyid: string) => KeyObject | undefined;
}

/** What a verified signature says. */
export interface VerifiedSignature {
  readonly label: string;
  readonly keyid: string;
  readonly created: number;
  readonly expires: number | undefined;
  readonly nonce: string;
  readonly components: readonly string[];
}

/** What a signature claims before it is checked (for refusal logs: never trust it). */
export interface ClaimedSignature {
  readonly label: string;
  readonly keyid: string | undefined;
}

/**
 * RFC 9421 §3.2: verifies the request's signature labelled with our tag.
 * Returns what it verified or throws an `AUTH_*` code. `onClaim` hears the
 * claimed key id as soon as it is parsed, so refusals can be logged with it.
 */
export function verifyRequest(
  message: HttpRequestMessage,
  options: VerifyOptions,
  onClaim?: (claim: ClaimedSignature) => void,
): VerifiedSignature {
  const inputField = single(message, 'signature-input');
  const sigField = single(message, 'signature');
  // §3.2 step 1: both fields are required.
  if (inputField === undefined || sigField === undefined) {
    throw new HttpSigError('AUTH_SIGNATURE_MISSING', 'the request carries no signature');
  }
  const inputs = parseField(inputField, 'Signature-Input');
  const signatures = parseField(sigField, 'Signature');

  // §3.2 step 1: choose the signature to verify: the one with our tag (§2.3 "tag").
  const chosen = inputs.find(([, member]) => {
    const tag = paramOf(member.params, 'tag');
    return member.kind === 'inner-list' && tag?.type === 'string' && tag.value === options.tag;
  });
  if (chosen === undefined) {
    throw new HttpSigError('AUTH_SIGNATURE_MISSING', `no signature is tagged "${options.tag}"`);
  }
  const [label, list] = chosen;
  if (list.kind !== 'inner-list') throw malformed('Signature-Input members are inner lists');
  const keyid = stringParam(list.params, 'keyid');
  onClaim?.({ label, keyid });

  // §3.2 step 2: the Signature member with the same label, a Byte Sequence.
  const sigMember = signatures.find(([l]) => l === label)?.[1];
  if (sigMember?.kind !== 'item' || sigMember.value.type !== 'bytes') {
    throw malformed(`Signature has no byte sequence labelled "${label}"`);
  }
  // §3.2 step 3: the covered components, each a String with no parameters we do not know.
  const components = list.items.map((item) => {
    if (item.value.type !== 'string') throw malformed('component identifiers are strings');
    if (item.params.length > 0) {
      // §2.1 and §2.2 parameters (sf, key, bs, req, tr, name) are not supported: refuse.
      throw new HttpSigError(
        'AUTH_COMPONENT_UNSUPPORTED',
        `component parameters are not supported ("${item.value.value}")`,
      );
    }
    return item.value.value;
  });

  // §3.2 step 4-5: the parameters this application requires.
  const alg = stringParam(list.params, 'alg');
  if (alg !== undefined && alg !== ALGORITHM) {
    throw new HttpSigError('AUTH_ALGORITHM_UNSUPPORTED', `alg "${alg}" is not ${ALGORITHM}`);
  }
  const created = integerParam(list.params, 'created');
  const expires = integerParam(list.params, 'expires');
  const nonce = stringParam(list.params, 'nonce');
  if (created === undefined || keyid === undefined || alg === undefined || nonce === undefined) {
    throw malformed('created, keyid, alg and nonce are required');
  }
  if (nonce.length < 16 || nonce.length > 128) {
    throw malformed('the nonce must be 16 to 128 characters');
  }
  const missing = options.requiredComponents.filter((c) => !components.includes(c));
  if (missing.length > 0) {
    throw new HttpSigError(
      'AUTH_COMPONENTS_INCOMPLETE',
      `the signature must cover ${missing.map((c) => `"${c}"`).join(', ')}`,
    );
  }
  // §3.2 step 6 and §7.2.2: refuse signatures outside the window or past `expires`.
  if (Math.abs(options.now - created) > options.windowSeconds) {
    throw new HttpSigError(
      'AUTH_SIGNATURE_STALE',
      `created ${created} is more than ${options.windowSeconds} s from now`,
    );
  }
  if (expires !== undefined && options.now >= expires) {
    throw new HttpSigError('AUTH_SIGNATURE_STALE', `the signature expired at ${expires}`);
  }
  // §3.2 step 7: the key, from our own allow-list and never from the message (§7.3.1).
  const key = options.keyFor(keyid);
  if (key === undefined) {
    throw new HttpSigError('AUTH_KEY_UNKNOWN', `no caller has key id "${keyid}"`);
  }
  // §3.2 step 8-9: recreate the base with the received parameters and verify.
  const base = signatureBase(message, { components, params: list.params });
  if (!cryptoVerify(null, Buffer.from(base, 'utf8'), key, sigMember.value.value)) {
    throw new HttpSigError('AUTH_SIGNATURE_INVALID', 'the signature does not verify', {
      evidence: { keyid, signatureParams: serializeInnerList(list) },
    });
  }
  return { label, keyid, created, expires, nonce, components };
}

function single(message: HttpRequestMessage, name: string): string | undefined {
  const v = message.headers[name];
  return v === undefined ? undefined : typeof v === 'string' ? v : v.join(', ');
}

function parseField(field: string, name: string): Dictionary {
  try {
    return parseDictionary(field);
  } catch (cause) {
    throw new HttpSigError('AUTH_SIGNATURE_MALFORMED', `${name} is not a dictionary`, { cause });
  }
}

function stringParam(params: Parameters, key: string): string | undefined {
  const v = paramOf(params, key);
  if (v === undefined) return undefined;
  if (v.type !== 'string') throw malformed(`the ${key} parameter is a string`);
  return v.value;
}

function integerParam(params: Parameters, key: string): number | undefined {
  const v = paramOf(params, key);
  if (v === undefined) return undefined;
  if (v.type !== 'integer') throw malformed(`the ${key} parameter is an integer`);
  return v.value;
}

function malformed(message: string): HttpSigError {
  return new HttpSigError('AUTH_SIGNATURE_MALFORMED', message);
}
