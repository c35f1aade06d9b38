/**
 * The principal registry (issue 17 §3): who may ask the gateway for data.
 * Each principal is an Ed25519 key registered with the supervisor together
 * with the employing entity, office country and role that go into access
 * records; the public log names only the pseudonym `p-…` derived from the
 * key. The registry is a DSSE envelope signed by a supervisor key of the
 * access policy: the gateway authenticates accessors with it, and the key
 * release refuses a record whose accessor it does not list exactly.
 *
 * Shared vocabulary of the vendor's gateway and the supervisor's key release.
 */
import {
  ACCESS_RECORD_SCHEMA,
  principalPseudonym,
  type Accessor,
  encodeAccessRecord,
} from '@glasshouse/access-format';
import {
  buildEnvelope,
  canonicalJson,
  decodePublicKey,
  encodePublicKey,
  fromBase64,
  keyId,
  pae,
  serializeEnvelope,
  signEd25519,
  verifyEd25519,
  type Json,
} from '@glasshouse/residency';
import { AccessError } from './errors.js';

export const PRINCIPAL_REGISTRY_SCHEMA = 'glasshouse.principal-registry/v1';
export const PRINCIPAL_REGISTRY_PAYLOAD_TYPE = 'application/vnd.glasshouse.principal-registry+json';
export const MAX_PRINCIPAL_REGISTRY_BYTES = 1024 * 1024;
const MAX_PRINCIPALS = 10_000;

export interface Principal {
  /** Raw 32-byte Ed25519 public key. */
  readonly key: Uint8Array;
  readonly entity: string;
  readonly country: string;
  readonly role: string;
}

export interface PrincipalRegistry {
  readonly version: number;
  readonly issuedAt: string;
  readonly principals: readonly Principal[];
}

export interface RegisteredPrincipal extends Principal {
  readonly pseudonym: string;
  /** The record's `accessor` for this principal. */
  readonly accessor: Accessor;
}

const invalid = (what: string, evidence?: Record<string, unknown>): never => {
  throw new AccessError('REGISTRY_INVALID', `principal registry: ${what}`, {
    ...(evidence ? { evidence } : {}),
  });
};

function registryJson(r: PrincipalRegistry): Json {
  return {
    schema: PRINCIPAL_REGISTRY_SCHEMA,
    version: r.version,
    issuedAt: r.issuedAt,
    principals: [...r.principals]
      .map((p) => ({
        key: encodePublicKey(p.key),
        entity: p.entity,
        country: p.country,
        role: p.role,
      }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
  };
}

/** The registry payload: canonical JSON + '\n', principals sorted by key. */
export function encodePrincipalRegistry(registry: PrincipalRegistry): Uint8Array {
  const bytes = new TextEncoder().encode(`${canonicalJson(registryJson(registry))}\n`);
  checkRegistryPayload(bytes);
  return bytes;
}

/** A DSSE envelope of the registry signed by the supervisor (raw 32-byte Ed25519 seed). */
export function signPrincipalRegistry(
  registry: PrincipalRegistry,
  supervisor: { publicKey: Uint8Array; seed: Uint8Array },
): string {
  const payload = encodePrincipalRegistry(registry);
  const sig = signEd25519(supervisor.seed, pae(PRINCIPAL_REGISTRY_PAYLOAD_TYPE, payload));
  return serializeEnvelope(
    buildEnvelope(PRINCIPAL_REGISTRY_PAYLOAD_TYPE, payload, [
      { keyid: keyId(supervisor.publicKey), sig },
    ]),
  );
}

/** The accessor of a record this principal makes: pseudonym, entity, country, role. */
export function accessorOf(p: Principal): Accessor {
  return {
    principal: principalPseudonym(p.key),
    entity: p.entity,
    country: p.country,
    role: p.role,
  };
}

/**
 * Opens a registry envelope: size cap, DSSE (protocol.md) with a valid
 * signature by one of `supervisorKeys` (the access policy's), a well-formed
 * canonical payload. Returns the principals by pseudonym.
 */
export function openPrincipalRegistry(
  envelope: string | Uint8Array,
  supervisorKeys: readonly Uint8Array[],
): Map<string, RegisteredPrincipal> {
  const bytes = typeof envelope === 'string' ? new TextEncoder().encode(envelope) : envelope;
  if (bytes.length > MAX_PRINCIPAL_REGISTRY_BYTES) invalid('over 1 MiB');
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch (cause) {
    throw new AccessError('REGISTRY_INVALID', 'principal registry: not UTF-8 JSON', { cause });
  }
  const v = value as { payloadType?: unknown; payload?: unknown; signatures?: unknown };
  if (v.payloadType !== PRINCIPAL_REGISTRY_PAYLOAD_TYPE) invalid('payloadType is not the registry');
  const payload = typeof v.payload === 'string' ? fromBase64(v.payload) : undefined;
  if (payload === undefined) return invalid('payload is not base64');
  if (!Array.isArray(v.signatures) || v.signatures.length < 1 || v.signatures.length > 8) {
    invalid('signatures is not 1..8 entries');
  }
  // DSSE protocol.md: accept when a signature verifies under a trusted key (here: the supervisor's).
  const message = pae(PRINCIPAL_REGISTRY_PAYLOAD_TYPE, payload);
  const signed = (v.signatures as unknown[]).some((s) => {
    const { keyid, sig } = (s ?? {}) as { keyid?: unknown; sig?: unknown };
    const key = supervisorKeys.find((k) => keyId(k) === keyid);
    const raw = typeof sig === 'string' ? fromBase64(sig) : undefined;
    return key !== undefined && raw !== undefined && verifyEd25519(key, message, raw);
  });
  if (!signed) invalid('no valid signature of a supervisor key');
  const registry = checkRegistryPayload(payload);
  const out = new Map<string, RegisteredPrincipal>();
  for (const p of registry.principals) {
    const accessor = accessorOf(p);
    out.set(accessor.principal, { ...p, pseudonym: accessor.principal, accessor });
  }
  return out;
}

function checkRegistryPayload(bytes: Uint8Array): PrincipalRegistry {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
  } catch (cause) {
    throw new AccessError('REGISTRY_INVALID', 'principal registry: payload is not JSON', { cause });
  }
  if (typeof value !== 'object' || value === null) return invalid('payload is not an object');
  const v = value as Record<string, unknown>;
  if (v.schema !== PRINCIPAL_REGISTRY_SCHEMA) invalid(`schema is not ${PRINCIPAL_REGISTRY_SCHEMA}`);
  if (typeof v.version !== 'number' || !Number.isSafeInteger(v.version) || v.version < 1) {
    invalid('version is not a positive integer');
  }
  if (typeof v.issuedAt !== 'string') invalid('issuedAt is missing');
  if (!Array.isArray(v.principals) || v.principals.length > MAX_PRINCIPALS) {
    invalid(`principals is not a list of at most ${MAX_PRINCIPALS}`);
  }
  const principals = (v.principals as unknown[]).map((p, i): Principal => {
    const e = (p ?? {}) as Record<string, unknown>;
    let key: Uint8Array;
    try {
      key = decodePublicKey(typeof e.key === 'string' ? e.key : '');
    } catch (cause) {
      throw new AccessError('REGISTRY_INVALID', `principals[${i}].key is not a raw Ed25519 key`, {
        cause,
      });
    }
    return {
      key,
      entity: String(e.entity),
      country: String(e.country),
      role: String(e.role),
    };
  });
  const registry: PrincipalRegistry = {
    version: v.version as number,
    issuedAt: v.issuedAt as string,
    principals,
  };
  // Each principal's accessor must be one an access record accepts (access-format's own check).
  for (const [i, p] of principals.entries()) {
    try {
      encodeAccessRecord({
        schema: ACCESS_RECORD_SCHEMA,
        site: 'registry-check',
        customer: `c-${'0'.repeat(32)}`,
        dataClass: 'registry-check',
        scope: { kind: 'batches', batches: [`sha256:${'0'.repeat(64)}`] },
        accessor: accessorOf(p),
        justification: { code: 'SERVICE_OPERATION', detail: 'registry check' },
        approval: null,
        time: '2026-01-01T00:00:00Z',
        counter: 1,
      });
    } catch (cause) {
      throw new AccessError('REGISTRY_INVALID', `principals[${i}] is not a valid accessor`, {
        cause,
      });
    }
  }
  const canonical = new TextEncoder().encode(`${canonicalJson(registryJson(registry))}\n`);
  if (Buffer.compare(Buffer.from(canonical), Buffer.from(bytes)) !== 0) {
    invalid('payload is not in canonical form (sorted by key)');
  }
  const seen = new Set<string>();
  for (const p of principals) {
    const k = encodePublicKey(p.key);
    if (seen.has(k)) invalid('a key is listed twice');
    seen.add(k);
  }
  return registry;
}
