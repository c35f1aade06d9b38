/**
 * The trust bundle: everything an endpoint pins at enrollment, in one DSSE
 * envelope (secure-systems-lab/dsse envelope.md) signed by the vendor and
 * by the supervisor. Pure: bytes in, values out.
 *
 * Payload (JSON, payload type TRUST_BUNDLE_PAYLOAD_TYPE):
 *
 *     schema          glasshouse.trust-bundle/v1
 *     tufRoot         the TUF root metadata to pin ({signed, signatures})
 *     witnessPolicy   the release log's c2sp.org/tlog-policy, its log line with the URL
 *     repoUrl, logUrl, rulesName, source
 *     supervisor      {publicKeyPem, verifierId, tufKeys: {root, release}}
 *     builder         {publicKeyPem, builderId}
 *     residency       OPTIONAL (bundles without it stay valid): what an endpoint
 *                     pins for telemetry — {routerUrl?, logPolicy (the residency
 *                     log's c2sp.org/tlog-policy, its log line with the URL),
 *                     vendorKey and supervisorKey (base64 raw Ed25519 residency
 *                     signing keys), keyRelease (base64 raw X25519 key-release
 *                     public key, RFC 9180 §7.1)}. Both organisations sign it
 *                     with the rest, so neither can swap the key-release key alone.
 *
 * The signatures are checked against the keys of the ROOT role of the TUF
 * root the bundle carries (TUF 4.3 "root.json": `roles.root.keyids`,
 * `keys`): those are the keys both organisations hold for the one decision
 * the bundle also makes, what an endpoint trusts first, and the root needs
 * both of them (threshold 2). The supervisor's signature is the one by its
 * root key (`supervisor.tufKeys.root`); the vendor's is one by any other key
 * of the root role. The fingerprint, SHA-256 of the envelope's bytes, is what
 * a person compares out of band: it fixes the root, hence the keys.
 */
import { ed25519Verify, fromHex, sha256, toHex, utf8 } from '@glasshouse/crypto';
import {
  decodeBase64,
  pae,
  parseEnvelope,
  serializeEnvelope,
  signEnvelope,
  type EnvelopeSigner,
} from '@glasshouse/attest';
import { ReleaseFormatError } from './errors.js';
import { tufKeyId, type TufPublicKey } from './keys.js';

export const TRUST_BUNDLE_PAYLOAD_TYPE = 'application/vnd.glasshouse.trust-bundle+json';
export const TRUST_BUNDLE_SCHEMA = 'glasshouse.trust-bundle/v1';
/** A root (capped at 512,000 bytes like tuf-js caps it), base64, and a few keys and URLs. */
export const MAX_TRUST_BUNDLE_BYTES = 1024 * 1024;
/** Vendor and supervisor; a few more root keys at most. */
const MAX_SIGNATURES = 8;
const HEX_64 = /^[0-9a-f]{64}$/;

export interface TrustBundle {
  readonly schema: typeof TRUST_BUNDLE_SCHEMA;
  readonly tufRoot: { readonly signed: Record<string, unknown>; readonly signatures: unknown[] };
  readonly witnessPolicy: string;
  readonly repoUrl: string;
  readonly logUrl: string;
  readonly rulesName: string;
  readonly source: string;
  readonly supervisor: {
    readonly publicKeyPem: string;
    readonly verifierId: string;
    readonly tufKeys: { readonly root: TufPublicKey; readonly release: TufPublicKey };
  };
  readonly builder: { readonly publicKeyPem: string; readonly builderId: string };
  readonly residency?: ResidencyTrust | undefined;
}

/** The data path's trust roots an endpoint pins (see the module comment). */
export interface ResidencyTrust {
  /** The ingest router's base URL (http or https), when known at enrollment; `agent enroll --router` gives it otherwise. */
  readonly routerUrl?: string | undefined;
  /** The residency log's c2sp.org/tlog-policy: its log line (key and URL), witnesses, quorum. */
  readonly logPolicy: string;
  /** The vendor's residency signing key, base64 of the raw 32-byte Ed25519 key. */
  readonly vendorKey: string;
  /** The supervisor's residency signing key, base64 of the raw 32-byte Ed25519 key. */
  readonly supervisorKey: string;
  /** The supervisor's key-release public key, base64 of the raw 32-byte X25519 key. */
  readonly keyRelease: string;
}

/** The bytes the vendor and the supervisor sign. */
export function encodeTrustBundlePayload(bundle: TrustBundle): Uint8Array {
  return utf8(`${JSON.stringify(bundle, null, 2)}\n`);
}

/**
 * The envelope from signatures made elsewhere (each organisation signs
 * `trustBundleSigningMessage(payload)` with its TUF root key).
 */
export function trustBundleEnvelope(
  payload: Uint8Array,
  signers: readonly EnvelopeSigner[],
): string {
  return `${serializeEnvelope(signEnvelope(TRUST_BUNDLE_PAYLOAD_TYPE, payload, signers))}\n`;
}

/** What each signer signs: DSSE PAE of the payload (DSSE protocol.md "Signature"). */
export function trustBundleSigningMessage(payload: Uint8Array): Uint8Array {
  return pae(TRUST_BUNDLE_PAYLOAD_TYPE, payload);
}

/** SHA-256 of the bundle's bytes, lowercase hex: what a person compares. */
export function trustBundleFingerprint(bytes: Uint8Array): string {
  return toHex(sha256(bytes));
}

/** Throws TRUST_BUNDLE_FINGERPRINT_MISMATCH unless `expected` (hex, `sha256:` and colons allowed) is the bundle's. */
export function verifyTrustBundleFingerprint(bytes: Uint8Array, expected: string): void {
  const wanted = expected
    .trim()
    .toLowerCase()
    .replace(/^sha256:/, '')
    .replace(/:/g, '');
  if (!HEX_64.test(wanted)) {
    throw new ReleaseFormatError(
      'TRUST_BUNDLE_FINGERPRINT_INVALID',
      'the fingerprint is not 64 hex digits (SHA-256)',
    );
  }
  const actual = trustBundleFingerprint(bytes);
  if (actual !== wanted) {
    throw new ReleaseFormatError(
      'TRUST_BUNDLE_FINGERPRINT_MISMATCH',
      'the trust bundle is not the one whose fingerprint was given',
      { evidence: { expected: wanted, actual } },
    );
  }
}

/**
 * Parses the envelope and its payload, then checks the two signatures
 * against the root role of the root it carries (see the module comment).
 * Returns the bundle only when both verified.
 */
export function openTrustBundle(bytes: Uint8Array): TrustBundle {
  if (bytes.length > MAX_TRUST_BUNDLE_BYTES) {
    throw new ReleaseFormatError(
      'TRUST_BUNDLE_MALFORMED',
      'the trust bundle is over the size limit',
      {
        evidence: { size: bytes.length, max: MAX_TRUST_BUNDLE_BYTES },
      },
    );
  }
  let payload: Uint8Array;
  let signatures: { keyid?: string; sig: string }[];
  try {
    const envelope = parseEnvelope(bytes, {
      maxSize: MAX_TRUST_BUNDLE_BYTES,
      maxSignatures: MAX_SIGNATURES,
    });
    // DSSE protocol.md: "Reject if PAYLOAD_TYPE is not a supported type."
    if (envelope.payloadType !== TRUST_BUNDLE_PAYLOAD_TYPE) {
      throw new ReleaseFormatError('TRUST_BUNDLE_MALFORMED', 'not a trust bundle (payload type)', {
        evidence: { payloadType: envelope.payloadType },
      });
    }
    payload = decodeBase64(envelope.payload, 'payload', true);
    signatures = envelope.signatures;
  } catch (cause) {
    if (cause instanceof ReleaseFormatError) throw cause;
    throw new ReleaseFormatError(
      'TRUST_BUNDLE_MALFORMED',
      'the trust bundle is not a DSSE envelope',
      {
        cause,
      },
    );
  }
  const bundle = parsePayload(payload);
  verifyBundleSignatures(bundle, payload, signatures);
  return bundle;
}

function verifyBundleSignatures(
  bundle: TrustBundle,
  payload: Uint8Array,
  signatures: readonly { keyid?: string; sig: string }[],
): void {
  const root = bundle.tufRoot.signed;
  const rootRole = (root.roles as Record<string, { keyids?: unknown }> | undefined)?.root;
  const rootKeyids = Array.isArray(rootRole?.keyids)
    ? rootRole.keyids.filter((k): k is string => typeof k === 'string')
    : [];
  const keys = (root.keys ?? {}) as Record<string, { keyval?: { public?: unknown } }>;
  const supervisorRoot = tufKeyId(bundle.supervisor.tufKeys.root);
  // TUF 4.3: the root role's keyids name the keys that may sign for it.
  if (!rootKeyids.includes(supervisorRoot)) {
    throw new ReleaseFormatError(
      'TRUST_BUNDLE_KEY_MISMATCH',
      "the TUF root does not list the supervisor's root key in its root role",
      { evidence: { supervisorRootKey: supervisorRoot, rootKeyids } },
    );
  }
  const message = trustBundleSigningMessage(payload);
  /** keyid → public key hex of each signature that verified. */
  const verifiedBy = new Map<string, string>();
  signatures.forEach((signature, index) => {
    const keyid = signature.keyid ?? '';
    const hex = keys[keyid]?.keyval?.public;
    if (!rootKeyids.includes(keyid) || typeof hex !== 'string' || !HEX_64.test(hex)) {
      throw new ReleaseFormatError(
        'TRUST_BUNDLE_KEY_MISMATCH',
        "a signature's key is not a root key of the bundle's TUF root",
        { evidence: { index, keyid, rootKeyids } },
      );
    }
    const key = fromHex(hex) ?? new Uint8Array(0);
    let sig: Uint8Array;
    try {
      sig = decodeBase64(signature.sig, `signatures[${index}].sig`, true);
    } catch (cause) {
      throw new ReleaseFormatError('TRUST_BUNDLE_MALFORMED', 'a signature is not base64', {
        cause,
      });
    }
    // DSSE protocol.md "Verification": the signature is over PAE(type, payload).
    if (!ed25519Verify(key, message, sig)) {
      throw new ReleaseFormatError(
        'TRUST_BUNDLE_SIGNATURE_INVALID',
        'a trust bundle signature fails',
        {
          evidence: { index, keyid },
        },
      );
    }
    verifiedBy.set(keyid, hex);
  });
  const supervisorHex = bundle.supervisor.tufKeys.root.keyval.public;
  const bySupervisor = verifiedBy.has(supervisorRoot);
  // Another key, not the same key listed under a second keyid.
  const byVendor = [...verifiedBy].some(
    ([k, hex]) => k !== supervisorRoot && hex !== supervisorHex,
  );
  if (!bySupervisor || !byVendor) {
    throw new ReleaseFormatError(
      'TRUST_BUNDLE_SIGNATURE_MISSING',
      `the trust bundle lacks the ${bySupervisor ? "vendor's" : "supervisor's"} signature`,
      { evidence: { verifiedBy: [...verifiedBy.keys()], supervisorRootKey: supervisorRoot } },
    );
  }
}

function parsePayload(payload: Uint8Array): TrustBundle {
  const malformed = (what: string, cause?: unknown): never => {
    throw new ReleaseFormatError('TRUST_BUNDLE_MALFORMED', `trust bundle: ${what}`, { cause });
  };
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch (cause) {
    return malformed('the payload is not UTF-8 JSON', cause);
  }
  const v = value as Record<string, unknown> | null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return malformed('not an object');
  if (v.schema !== TRUST_BUNDLE_SCHEMA) malformed(`schema is not ${TRUST_BUNDLE_SCHEMA}`);
  for (const key of ['witnessPolicy', 'repoUrl', 'logUrl', 'rulesName', 'source'] as const) {
    if (typeof v[key] !== 'string' || v[key] === '') malformed(`${key} is not a string`);
  }
  const root = v.tufRoot as { signed?: unknown; signatures?: unknown } | undefined;
  if (typeof root?.signed !== 'object' || root.signed === null || !Array.isArray(root.signatures)) {
    malformed('tufRoot is not TUF metadata {signed, signatures}');
  }
  const sup = v.supervisor as
    | {
        publicKeyPem?: unknown;
        verifierId?: unknown;
        tufKeys?: { root?: unknown; release?: unknown };
      }
    | undefined;
  if (
    typeof sup?.publicKeyPem !== 'string' ||
    typeof sup.verifierId !== 'string' ||
    !isTufKey(sup.tufKeys?.root) ||
    !isTufKey(sup.tufKeys.release)
  ) {
    malformed('supervisor is not {publicKeyPem, verifierId, tufKeys: {root, release}}');
  }
  const bld = v.builder as { publicKeyPem?: unknown; builderId?: unknown } | undefined;
  if (typeof bld?.publicKeyPem !== 'string' || typeof bld.builderId !== 'string') {
    malformed('builder is not {publicKeyPem, builderId}');
  }
  if (v.residency !== undefined) checkResidencyTrust(v.residency, malformed);
  return v as unknown as TrustBundle;
}

const BASE64_32 = /^[A-Za-z0-9+/]{43}=$/;
const MAX_RESIDENCY_TEXT = 64 * 1024;

/** Throws through `malformed` unless `value` is a ResidencyTrust (exactly its fields). */
export function checkResidencyTrust(
  value: unknown,
  malformed: (what: string) => never = (what) => {
    throw new ReleaseFormatError('TRUST_BUNDLE_MALFORMED', `residency trust: ${what}`);
  },
): asserts value is ResidencyTrust {
  const r = value as Record<string, unknown> | null;
  if (typeof r !== 'object' || r === null || Array.isArray(r))
    malformed('residency is not an object');
  const fields = ['routerUrl', 'logPolicy', 'vendorKey', 'supervisorKey', 'keyRelease'];
  for (const key of Object.keys(r)) {
    if (!fields.includes(key)) malformed(`residency has an unknown field ${key}`);
  }
  for (const key of fields) {
    const field = r[key];
    if (key === 'routerUrl' && field === undefined) continue;
    if (typeof field !== 'string' || field === '' || field.length > MAX_RESIDENCY_TEXT) {
      malformed(`residency.${key} is not a string`);
    }
  }
  if (r.routerUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(r.routerUrl as string))
    malformed('residency.routerUrl is not an http(s) URL');
  for (const key of ['vendorKey', 'supervisorKey', 'keyRelease']) {
    // RFC 8032 §5.1.5 and RFC 7748 §5: both key kinds are 32 raw bytes.
    if (!BASE64_32.test(r[key] as string)) malformed(`residency.${key} is not base64 of 32 bytes`);
  }
  if (r.vendorKey === r.supervisorKey)
    malformed('residency: the vendor and supervisor keys are the same');
}

/** The supervisor's own residency public keys, as it holds them (base64 of 32 raw bytes each). */
export interface SupervisorResidencyKeys {
  /** Its Ed25519 residency signing key (co-signs policy versions). */
  readonly supervisorKey: string;
  /** Its X25519 key-release key (the endpoints seal personal fields to it). */
  readonly keyRelease: string;
}

/**
 * The supervisor's check before it co-signs a bundle with a `residency`
 * field: the field must name the supervisor's own residency key and its own
 * key-release key. Otherwise the vendor could have endpoints pin a
 * key-release key of its own choosing and open the personal fields itself,
 * or a supervisor key it holds and sign policy versions alone.
 * `own` undefined: the supervisor holds no residency keys, so it vouches
 * for no residency field. Throws TRUST_BUNDLE_RESIDENCY_FOREIGN.
 */
export function checkResidencyIsSupervisors(
  residency: ResidencyTrust | undefined,
  own: SupervisorResidencyKeys | undefined,
): void {
  if (residency === undefined) return;
  const foreign = (what: string, evidence: Record<string, unknown>): never => {
    throw new ReleaseFormatError('TRUST_BUNDLE_RESIDENCY_FOREIGN', what, { evidence });
  };
  if (own === undefined) {
    foreign('the bundle pins residency keys but the supervisor holds none', {});
  } else {
    if (residency.supervisorKey !== own.supervisorKey) {
      foreign("residency.supervisorKey is not the supervisor's residency key", {
        named: residency.supervisorKey,
        supervisors: own.supervisorKey,
      });
    }
    if (residency.keyRelease !== own.keyRelease) {
      foreign("residency.keyRelease is not the supervisor's key-release key", {
        named: residency.keyRelease,
        supervisors: own.keyRelease,
      });
    }
  }
}

/** TUF 4.2 "ed25519" key: exactly these fields, 32 bytes of hex. */
function isTufKey(value: unknown): value is TufPublicKey {
  const k = value as { keytype?: unknown; scheme?: unknown; keyval?: { public?: unknown } } | null;
  return (
    typeof k === 'object' &&
    k !== null &&
    k.keytype === 'ed25519' &&
    k.scheme === 'ed25519' &&
    typeof k.keyval?.public === 'string' &&
    HEX_64.test(k.keyval.public)
  );
}
