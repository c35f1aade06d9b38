/**
 * The residency policy: which site holds the data of which region. Each
 * version names the digest of the previous one and is signed by both the
 * vendor and the supervisor (DSSE, payload type POLICY_PAYLOAD_TYPE); a
 * version acts only once it is an entry of the witnessed residency log.
 */
import { canonicalJson, parseJsonBytes, sha256Digest, utf8 } from './bytes.js';
import { exactObject, matching, positiveInteger, preview, rfc3339, type Fail } from './check.js';
import {
  buildEnvelope,
  checkEnvelope,
  pae,
  parseEnvelopeText,
  serializeEnvelope,
  verifyParties,
  type DetachedSignature,
  type DsseEnvelope,
} from './dsse.js';
import { ResidencyError } from './errors.js';
import { assertKnownRegion, COUNTRY_CODE, isKnownRegion, REGION_CODE } from './regions.js';

export const POLICY_PAYLOAD_TYPE = 'application/vnd.glasshouse.residency-policy+json';
export const POLICY_SCHEMA = 'glasshouse.residency-policy/v1';
/** Size cap of a policy payload. */
export const MAX_POLICY_BYTES = 64 * 1024;
/** Size cap of a policy envelope's text: the payload in base64 plus a few signatures. */
export const MAX_POLICY_ENVELOPE_BYTES = 96 * 1024;
export const SITE_ID = /^[a-z0-9-]{2,32}$/;
export const DIGEST = /^sha256:[0-9a-f]{64}$/;
const MAX_SITES = 64;
/** c2sp.org/signed-note verifier key: name+hexid+base64(0x01 ‖ 32-byte key). */
const VERIFIER_KEY = /^[^+\s]{1,200}\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/;

export interface Site {
  /** `[a-z0-9-]{2,32}`, e.g. "ch-zrh". */
  readonly id: string;
  /** ISO 3166-1 alpha-2. */
  readonly country: string;
  /** c2sp.org/signed-note verifier key of the site's ingest log. */
  readonly verifierKey: string;
  /** http(s) URL of the site API, ends with '/'. */
  readonly ingestUrl: string;
}

export interface ResidencyPolicy {
  readonly schema: typeof POLICY_SCHEMA;
  readonly version: number;
  /** `sha256:<hex>` of the previous version's payload bytes; null only for version 1. */
  readonly previous: string | null;
  readonly issuedAt: string;
  readonly sites: readonly Site[];
  /** Region code → site id. */
  readonly regions: Readonly<Record<string, string>>;
  /** Site id for every region not listed. */
  readonly default?: string;
}

/** A policy version that verified: the policy, its payload bytes and their digest. */
export interface OpenedPolicy {
  readonly policy: ResidencyPolicy;
  readonly payload: Uint8Array;
  readonly digest: string;
}

function policyJson(p: ResidencyPolicy): Parameters<typeof canonicalJson>[0] {
  return {
    schema: p.schema,
    version: p.version,
    previous: p.previous,
    issuedAt: p.issuedAt,
    sites: p.sites.map((s) => ({
      id: s.id,
      country: s.country,
      verifierKey: s.verifierKey,
      ingestUrl: s.ingestUrl,
    })),
    regions: Object.fromEntries(Object.entries(p.regions)),
    default: p.default,
  };
}

/** The payload bytes both parties sign: canonical JSON + '\n'. Checks the policy first. */
export function encodePolicy(policy: ResidencyPolicy): Uint8Array {
  checkPolicyValue(policy, invalid);
  return utf8(`${canonicalJson(policyJson(policy))}\n`);
}

/** `sha256:<hex>` of a policy payload: what the next version's `previous` and ingest-log entries name. */
export function policyDigest(payload: Uint8Array): string {
  return sha256Digest(payload);
}

const invalid: Fail = (what, evidence) => {
  throw new ResidencyError(
    'POLICY_INVALID',
    `residency policy: ${what}`,
    evidence ? { evidence } : {},
  );
};

/**
 * Parses a policy payload: size cap, schema, every mapped region known and
 * mapped to a listed site, unique site ids, canonical bytes.
 */
export function parsePolicy(bytes: Uint8Array): ResidencyPolicy {
  if (bytes.length > MAX_POLICY_BYTES) {
    invalid('over the size limit', { size: bytes.length, max: MAX_POLICY_BYTES });
  }
  const { value, text } = parseJsonBytes(
    bytes,
    (cause) => new ResidencyError('POLICY_INVALID', 'residency policy: not UTF-8 JSON', { cause }),
  );
  const policy = checkPolicyValue(value, invalid);
  // One encoding per policy: the digest names the content, not a spelling of it.
  if (text !== `${canonicalJson(policyJson(policy))}\n`)
    invalid('the payload is not in canonical form');
  return policy;
}

function checkPolicyValue(value: unknown, fail: Fail): ResidencyPolicy {
  const v = exactObject(
    value,
    'the policy',
    ['schema', 'version', 'previous', 'issuedAt', 'sites', 'regions'],
    ['default'],
    fail,
  );
  if (v.schema !== POLICY_SCHEMA)
    fail(`schema is not ${POLICY_SCHEMA}`, { schema: preview(v.schema) });
  const version = positiveInteger(v.version, 'version', fail);
  // Only version 1 starts a chain; every later version names its predecessor.
  if (
    version === 1 ? v.previous !== null : typeof v.previous !== 'string' || !DIGEST.test(v.previous)
  ) {
    fail(version === 1 ? 'version 1 has previous: null' : 'previous is not sha256:<64 hex>', {
      version,
      previous: preview(v.previous),
    });
  }
  const issuedAt = rfc3339(v.issuedAt, 'issuedAt', fail);
  if (!Array.isArray(v.sites) || v.sites.length === 0 || v.sites.length > MAX_SITES) {
    fail(`sites is not an array of 1..${MAX_SITES}`);
  }
  const sites = (v.sites as unknown[]).map((s, i) => checkSite(s, i, fail));
  const ids = new Set(sites.map((s) => s.id));
  if (ids.size !== sites.length) fail('two sites share an id');
  if (typeof v.regions !== 'object' || v.regions === null || Array.isArray(v.regions)) {
    fail('regions is not an object');
  }
  const regions: Record<string, string> = {};
  for (const [region, site] of Object.entries(v.regions as Record<string, unknown>)) {
    if (!REGION_CODE.test(region) || !isKnownRegion(region)) {
      fail('a mapped region is not in the regions table', { region: preview(region) });
    }
    if (typeof site !== 'string' || !ids.has(site)) {
      fail('a region maps to a site the policy does not list', { region, site: preview(site) });
    }
    regions[region] = site;
  }
  if (v.default !== undefined && (typeof v.default !== 'string' || !ids.has(v.default))) {
    fail('default is not a listed site', { default: preview(v.default) });
  }
  const policy: ResidencyPolicy = {
    schema: POLICY_SCHEMA,
    version,
    previous: v.previous as string | null,
    issuedAt,
    sites,
    regions,
    ...(v.default === undefined ? {} : { default: v.default }),
  };
  return policy;
}

function checkSite(value: unknown, index: number, fail: Fail): Site {
  const what = `sites[${index}]`;
  const s = exactObject(value, what, ['id', 'country', 'verifierKey', 'ingestUrl'], [], fail);
  const id = matching(s.id, SITE_ID, `${what}.id`, fail);
  const country = matching(s.country, COUNTRY_CODE, `${what}.country`, fail);
  const verifierKey = matching(s.verifierKey, VERIFIER_KEY, `${what}.verifierKey`, fail);
  // c2sp.org/signed-note: the key's first byte is the signature type, 0x01 = Ed25519.
  if (!verifierKey.split('+')[2]?.startsWith('A'))
    fail(`${what}.verifierKey is not an Ed25519 key`);
  const ingestUrl = s.ingestUrl;
  if (typeof ingestUrl !== 'string' || !isIngestUrl(ingestUrl)) {
    fail(
      `${what}.ingestUrl is not an http(s) URL ending with '/', without credentials, query or fragment`,
      {
        ingestUrl: preview(ingestUrl),
      },
    );
  }
  return { id, country, verifierKey, ingestUrl: ingestUrl };
}

function isIngestUrl(text: string): boolean {
  if (text.length > 512 || !text.endsWith('/')) return false;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not a URL at all: refused like any other bad value.
    return false;
  }
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.username === '' &&
    url.password === '' &&
    url.search === '' &&
    url.hash === '' &&
    url.href === text
  );
}

/** What each party signs: DSSE PAE of the policy payload (DSSE protocol.md "Signature definition"). */
export function policySigningMessage(payload: Uint8Array): Uint8Array {
  return pae(POLICY_PAYLOAD_TYPE, payload);
}

/** The DSSE envelope text of a policy payload with signatures made elsewhere. */
export function policyEnvelope(
  payload: Uint8Array,
  signatures: readonly DetachedSignature[],
): string {
  return serializeEnvelope(buildEnvelope(POLICY_PAYLOAD_TYPE, payload, signatures));
}

export interface PolicyKeys {
  /** The vendor's residency signing key, raw 32-byte Ed25519. */
  readonly vendorKey: Uint8Array;
  /** The supervisor's residency signing key, raw 32-byte Ed25519. */
  readonly supervisorKey: Uint8Array;
}

/**
 * Opens a policy envelope (text, or the envelope object of a log entry):
 * payload type, both parties' signatures, then the payload.
 */
export function openPolicyEnvelope(
  envelope: string | Uint8Array | DsseEnvelope,
  keys: PolicyKeys,
): OpenedPolicy {
  const value =
    typeof envelope === 'string' || envelope instanceof Uint8Array
      ? parseEnvelopeText(envelope, MAX_POLICY_ENVELOPE_BYTES, 'POLICY_INVALID')
      : envelope;
  const checked = checkEnvelope(value, POLICY_PAYLOAD_TYPE, 'POLICY_INVALID', MAX_POLICY_BYTES);
  // Issue 16 "Residency policy": signed by both the vendor and the supervisor.
  verifyParties(
    checked.envelope,
    checked.payload,
    [
      { name: 'vendor', key: keys.vendorKey },
      { name: 'supervisor', key: keys.supervisorKey },
    ],
    { missing: 'POLICY_SIGNATURE_MISSING', invalid: 'POLICY_SIGNATURE_INVALID' },
  );
  const policy = parsePolicy(checked.payload);
  return { policy, payload: checked.payload, digest: policyDigest(checked.payload) };
}

/**
 * Throws POLICY_CHAIN_BROKEN unless `next` directly follows `prev`:
 * version = prev.version + 1 and previous = prev's digest; with no previous
 * version, `next` must be version 1 with previous null.
 */
export function verifyPolicyChain(
  prev: { readonly policy: ResidencyPolicy; readonly digest: string } | null,
  next: ResidencyPolicy,
): void {
  const expected =
    prev === null
      ? { version: 1, previous: null }
      : { version: prev.policy.version + 1, previous: prev.digest };
  if (next.version !== expected.version || next.previous !== expected.previous) {
    throw new ResidencyError(
      'POLICY_CHAIN_BROKEN',
      'the policy version does not follow the last logged one',
      {
        evidence: { expected, actual: { version: next.version, previous: next.previous } },
      },
    );
  }
}

/**
 * The site a region's data goes to: its mapping, else the default.
 * REGION_UNKNOWN when the region is not in the table; REGION_NOT_DESIGNATED
 * when the policy maps it nowhere.
 */
export function designatedSite(policy: ResidencyPolicy, region: string): Site {
  assertKnownRegion(region);
  const id = Object.hasOwn(policy.regions, region) ? policy.regions[region] : policy.default;
  const site = id === undefined ? undefined : policy.sites.find((s) => s.id === id);
  if (site === undefined) {
    throw new ResidencyError(
      'REGION_NOT_DESIGNATED',
      'the policy designates no site for the region',
      {
        evidence: { region, version: policy.version },
      },
    );
  }
  return site;
}

/** The regions of the demo: data of these stays in Zurich (issue 16). */
export const DEMO_ZURICH_REGIONS = ['NA', 'EU', 'AU', 'KR', 'JP', 'SG'] as const;

/** Version 1 of the demo policy: NA, EU, AU, KR, JP, SG → zurich; every other region → other. */
export function demoPolicy(options: {
  zurich: Site;
  other: Site;
  issuedAt: string;
}): ResidencyPolicy {
  const policy: ResidencyPolicy = {
    schema: POLICY_SCHEMA,
    version: 1,
    previous: null,
    issuedAt: options.issuedAt,
    sites: [options.zurich, options.other],
    regions: Object.fromEntries(DEMO_ZURICH_REGIONS.map((r) => [r, options.zurich.id])),
    default: options.other.id,
  };
  checkPolicyValue(policy, invalid);
  return policy;
}
