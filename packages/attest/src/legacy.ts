/**
 * Legacy in-toto metadata (in-toto specification v0.9, in-toto/docs
 * in-toto-spec.md §4), as the Debian `in-toto` 1.3.1 CLI reads it (§4.2):
 *
 *   { "signed": <link or layout>, "signatures": [{ "keyid", "sig" }] }
 *
 * A signature is Ed25519 over the securesystemslib canonical JSON of `signed`
 * (§4.2; in-toto 1.3.1 `Signable.signable_bytes`), `sig` in hex. in-toto 1.3.1 does
 * not sign the JSON it read but the object it rebuilt from it, with exactly
 * the fields of its model classes; so this module writes exactly those
 * fields and refuses any other (an extra field would be signed here and
 * dropped there).
 *
 * `verifyLayout` and `verifyStepLinks` are the signature, expiry and
 * threshold parts of in-toto-verify (§5.2 steps 1–4, §4.3.1), pure. Artifact rules
 * and inspections (which run commands) are left to in-toto-verify; the one
 * artifact check an installer needs is `verifyProduct`.
 */
import { fromHex, toHex, utf8Length } from '@glasshouse/crypto';
import { canonicalString, encodeCanonical } from './canonical.js';
import { AttestError } from './errors.js';
import { isRecord, stableStringify } from './fields.js';
import {
  type KeyDictWithId,
  type PublicKey,
  type SigningKey,
  keyDictWithIdFor,
  publicKeyFromKeyDict,
} from './keys.js';
import { type DigestSet, ACCEPTED_DIGEST_ALGORITHMS, digestSetsMatch } from './statement.js';
import type {
  LinkMetadata,
  StepMetadata,
  LayoutMetadata,
  SignedMetadata,
  MetadataSignature,
  Metablock,
  LinkInput,
  LayoutInput,
  VerifyLayoutOptions,
  VerifiedStep,
} from './legacy-types.js';
import {
  LOWER_HEX,
  exactFields,
  fail,
  formatExpires,
  validateLayout,
  validateLink,
  validateSigned,
} from './legacy-validate.js';

export { formatExpires };

// Every type of legacy-types.ts is part of this module's API.
export type * from './legacy-types.js';

export const DEFAULT_MAX_METADATA_SIZE = 4 * 1024 * 1024;

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * `<step>.<keyid[:8]>.link`: in-toto-spec §4.4 names a link by step and key ID
 * prefix; in-toto 1.3.1 (`models.link.FILENAME_FORMAT`) takes 8 hex digits.
 */
export function linkFileName(stepName: string, keyid: string): string {
  return `${stepName}.${keyid.slice(0, 8)}.link`;
}

export function buildLink(input: LinkInput): LinkMetadata {
  const link: LinkMetadata = {
    _type: 'link',
    name: input.name,
    materials: input.materials ?? {},
    products: input.products ?? {},
    byproducts: input.byproducts ?? {},
    command: input.command ?? [],
    environment: input.environment ?? {},
  };
  validateLink(link);
  return link;
}

/** A layout whose `keys` are exactly the functionaries of its steps. */
export function buildLayout(input: LayoutInput): LayoutMetadata {
  const keys: Record<string, KeyDictWithId> = {};
  const steps = input.steps.map((step): StepMetadata => {
    for (const key of step.functionaries) keys[key.keyid] = keyDictWithIdFor(key);
    return {
      _type: 'step',
      name: step.name,
      threshold: step.threshold,
      pubkeys: step.functionaries.map((k) => k.keyid),
      expected_command: step.expectedCommand ?? [],
      expected_materials: step.expectedMaterials ?? [],
      expected_products: step.expectedProducts ?? [],
    };
  });
  const layout: LayoutMetadata = {
    _type: 'layout',
    expires: formatExpires(input.expires),
    readme: input.readme ?? '',
    keys,
    steps,
    inspect: (input.inspect ?? []).map((inspection) => ({
      _type: 'inspection',
      name: inspection.name,
      run: inspection.run,
      expected_materials: inspection.expectedMaterials ?? [],
      expected_products: inspection.expectedProducts ?? [],
    })),
  };
  validateLayout(layout);
  return layout;
}

/** The bytes every signature covers: canonical JSON of `signed` (in-toto-spec §4.2). */
export function signableBytes(signed: SignedMetadata): Uint8Array {
  return encodeCanonical(signed);
}

/** Signs link or layout metadata with each key. */
export function signMetadata<T extends SignedMetadata>(
  signed: T,
  signers: readonly SigningKey[],
): Metablock<T> {
  validateSigned(signed);
  if (signers.length === 0) {
    throw new AttestError('METADATA_SIGNER_INVALID', 'metadata needs at least one signer');
  }
  const keyids = signers.map((s) => s.keyid);
  if (new Set(keyids).size !== keyids.length) {
    throw new AttestError('METADATA_SIGNER_INVALID', 'the same key is listed twice');
  }
  const bytes = signableBytes(signed);
  return {
    signed,
    signatures: signers.map((signer) => ({
      keyid: signer.keyid,
      sig: toHex(signer.sign(bytes)),
    })),
  };
}

/** JSON text of a metablock, keys sorted, one-space indent like in-toto's own files. */
export function serializeMetablock(metablock: Metablock): string {
  return `${JSON.stringify(JSON.parse(stableStringify(metablock)), null, 1)}\n`;
}

/**
 * Parses a `.link` or `.layout` file strictly: size cap, UTF-8 JSON, exactly
 * `signed` and `signatures`, and the exact fields of the metadata type.
 */
export function parseMetablock(
  input: string | Uint8Array,
  options: { maxSize?: number } = {},
): Metablock {
  const maxSize = options.maxSize ?? DEFAULT_MAX_METADATA_SIZE;
  const size = typeof input === 'string' ? utf8Length(input) : input.length;
  if (size > maxSize) {
    throw new AttestError('METADATA_TOO_LARGE', 'metadata is over the size limit', {
      evidence: { size, maxSize },
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(typeof input === 'string' ? input : decoder.decode(input));
  } catch (cause) {
    throw new AttestError('METADATA_MALFORMED', 'metadata is not UTF-8 JSON', { cause });
  }
  if (!isRecord(value)) {
    throw new AttestError('METADATA_MALFORMED', 'metadata is not a JSON object');
  }
  exactFields(value, ['signed', 'signatures'], '');
  const signatures = value.signatures;
  if (!Array.isArray(signatures)) fail('invalid', 'signatures', 'not an array');
  const parsed = signatures.map((s: unknown, i): MetadataSignature => {
    const path = `signatures[${i}]`;
    if (!isRecord(s)) fail('invalid', path, 'not an object');
    exactFields(s, ['keyid', 'sig'], path);
    if (typeof s.keyid !== 'string' || !LOWER_HEX.test(s.keyid)) {
      fail('invalid', `${path}.keyid`, 'not lowercase hex');
    }
    if (typeof s.sig !== 'string' || !LOWER_HEX.test(s.sig)) {
      fail('invalid', `${path}.sig`, 'not lowercase hex');
    }
    return { keyid: s.keyid, sig: s.sig };
  });
  return { signed: validateSigned(value.signed), signatures: parsed };
}

/** `parseMetablock` for a link only. */
export function parseLinkMetablock(
  input: string | Uint8Array,
  options: { maxSize?: number } = {},
): Metablock<LinkMetadata> {
  return expectType(parseMetablock(input, options), 'link');
}

/** `parseMetablock` for a layout only. */
export function parseLayoutMetablock(
  input: string | Uint8Array,
  options: { maxSize?: number } = {},
): Metablock<LayoutMetadata> {
  return expectType(parseMetablock(input, options), 'layout');
}

function expectType<K extends SignedMetadata['_type']>(
  metablock: Metablock,
  type: K,
): Metablock<Extract<SignedMetadata, { _type: K }>> {
  if (metablock.signed._type !== type) {
    throw new AttestError('METADATA_TYPE_MISMATCH', `expected ${type} metadata`, {
      evidence: { _type: metablock.signed._type },
    });
  }
  return metablock as Metablock<Extract<SignedMetadata, { _type: K }>>;
}

/**
 * Whether the first signature carrying the key's keyid verifies over the
 * canonical bytes (in-toto 1.3.1 `Metablock.verify_signature`: "Only the
 * first signature ... whose keyid matches ... is verified").
 */
export function metablockSignedBy(metablock: Metablock, key: PublicKey): boolean {
  const signature = metablock.signatures.find((s) => s.keyid === key.keyid);
  if (signature === undefined || !LOWER_HEX.test(signature.sig) || signature.sig.length % 2 !== 0) {
    return false;
  }
  const sig = fromHex(signature.sig);
  return sig !== undefined && key.verify(signableBytes(metablock.signed), sig);
}

/** Throws METADATA_SIGNATURE_INVALID unless `metablockSignedBy`. */
export function verifyMetablockSignature(metablock: Metablock, key: PublicKey): void {
  if (!metablockSignedBy(metablock, key)) {
    throw new AttestError('METADATA_SIGNATURE_INVALID', 'no valid signature by the key', {
      evidence: { keyid: key.keyid, signatures: metablock.signatures.map((s) => s.keyid) },
    });
  }
}

/**
 * in-toto-spec §5.2 steps 1–2 as in-toto 1.3.1 does them: every pinned layout
 * key must have a valid signature, and the layout must not have expired
 * (`expires < now` fails, so a layout is valid through its `expires` second).
 * The layout's own consistency is checked too: each key dict's keyid is the
 * one computed from it, each step's functionaries are listed in `keys`.
 */
export function verifyLayout(metablock: Metablock, options: VerifyLayoutOptions): LayoutMetadata {
  if (options.layoutKeys.length === 0) {
    // in-toto 1.3.1: "Layout signature verification requires at least one key."
    throw new AttestError('LAYOUT_VERIFY_OPTIONS_INVALID', 'no layout key given');
  }
  const layout = expectType(metablock, 'layout');
  for (const key of options.layoutKeys) verifyMetablockSignature(layout, key);
  validateLayout(layout.signed);
  const expires = Date.parse(layout.signed.expires);
  if (expires < options.now.getTime()) {
    throw new AttestError('LAYOUT_EXPIRED', 'the layout has expired', {
      evidence: { expires: layout.signed.expires, now: options.now.toISOString() },
    });
  }
  return layout.signed;
}

/**
 * in-toto-spec §5.2 steps 3–4 and §4.3.1 ("multiple functionaries must perform
 * the operation and report the same results") for one step: links signed by functionaries
 * the step authorises count once per key; links with a bad signature, by
 * another key or for another step are ignored (as in-toto 1.3.1 does); at
 * least `threshold` keys must remain, and all their links must report the
 * same materials and products (verify_threshold_constraints).
 */
export function verifyStepLinks(
  layout: LayoutMetadata,
  stepName: string,
  links: readonly Metablock[],
): VerifiedStep {
  const step = layout.steps.find((s) => s.name === stepName);
  if (step === undefined) {
    throw new AttestError('LAYOUT_STEP_NOT_FOUND', 'the layout has no such step', {
      evidence: { step: stepName, steps: layout.steps.map((s) => s.name) },
    });
  }
  const authorised = step.pubkeys.flatMap((keyid) => {
    const dict = layout.keys[keyid];
    return dict === undefined ? [] : [publicKeyFromKeyDict(dict)];
  });
  const byKey = new Map<string, LinkMetadata>();
  for (const metablock of links) {
    if (metablock.signed._type !== 'link' || metablock.signed.name !== step.name) continue;
    for (const key of authorised) {
      if (!byKey.has(key.keyid) && metablockSignedBy(metablock, key)) {
        byKey.set(key.keyid, metablock.signed);
      }
    }
  }
  if (byKey.size < step.threshold) {
    throw new AttestError('STEP_THRESHOLD_NOT_MET', 'too few functionaries signed links', {
      evidence: { step: step.name, threshold: step.threshold, functionaries: [...byKey.keys()] },
    });
  }
  const functionaries = [...byKey.keys()].sort();
  const [first] = functionaries;
  const reference = first === undefined ? undefined : byKey.get(first);
  if (reference === undefined) {
    throw new AttestError('STEP_THRESHOLD_NOT_MET', 'no link verified', {
      evidence: { step: step.name },
    });
  }
  const artifacts = (link: LinkMetadata): string =>
    canonicalString({ materials: link.materials, products: link.products });
  for (const keyid of functionaries) {
    const link = byKey.get(keyid);
    if (link !== undefined && artifacts(link) !== artifacts(reference)) {
      throw new AttestError('STEP_LINKS_DISAGREE', 'links report different artifacts', {
        evidence: {
          step: step.name,
          reference: { keyid: first, materials: reference.materials, products: reference.products },
          other: { keyid, materials: link.materials, products: link.products },
        },
      });
    }
  }
  return { link: reference, functionaries };
}

/** Throws LINK_PRODUCT_MISMATCH unless the link lists `path` with a matching digest. */
export function verifyProduct(
  link: LinkMetadata,
  path: string,
  digest: DigestSet,
  accepted: readonly string[] = ACCEPTED_DIGEST_ALGORITHMS,
): void {
  const product = Object.hasOwn(link.products, path) ? link.products[path] : undefined;
  if (product === undefined || !digestSetsMatch(product, digest, accepted)) {
    throw new AttestError('LINK_PRODUCT_MISMATCH', 'the artifact is not the product', {
      evidence: { step: link.name, path, digest, product: product ?? null },
    });
  }
}
