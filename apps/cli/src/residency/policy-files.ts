/**
 * A residency policy version's life in files, as the CLI and `start` handle
 * it: a drafted payload (canonical JSON), an envelope each party adds its
 * signature to after reading the payload, and its publication as a
 * residency-log entry with a witnessed receipt.
 */
import { type KeyObject } from 'node:crypto';
import { CodedError } from '@glasshouse/errors';
import { LogClient } from '@glasshouse/log';
import {
  encodePolicy,
  encodeResidencyLogEntry,
  fromBase64,
  parsePolicy,
  policyDigest,
  policyEnvelope,
  policySigningMessage,
  POLICY_PAYLOAD_TYPE,
  POLICY_SCHEMA,
  RESIDENCY_LOG_SCHEMA,
  type DsseEnvelope,
  type ResidencyPolicy,
  type Site,
} from '@glasshouse/residency';
import { UsageError } from '../io.js';
import { detachedSignature } from './parties.js';

/** The payload of a policy envelope's text, unverified (signatures are checked by who opens it). */
export function envelopeOf(text: string): { envelope: DsseEnvelope; payload: Uint8Array } {
  let envelope: DsseEnvelope;
  try {
    envelope = JSON.parse(text) as DsseEnvelope;
  } catch (cause) {
    throw new UsageError('the policy envelope is not JSON', { cause });
  }
  if (
    envelope.payloadType !== POLICY_PAYLOAD_TYPE ||
    typeof envelope.payload !== 'string' ||
    !Array.isArray(envelope.signatures)
  ) {
    throw new UsageError('not a residency policy envelope');
  }
  const payload = fromBase64(envelope.payload);
  if (payload === undefined) throw new UsageError('the envelope payload is not base64');
  return { envelope, payload };
}

/** A new version: version 1 without `previous`, else previous.version + 1 naming its digest. */
export function draftPolicy(opts: {
  sites: readonly Site[];
  regions: Readonly<Record<string, string>>;
  default?: string | undefined;
  previousPayload?: Uint8Array | undefined;
  issuedAt: Date;
}): Uint8Array {
  const previous =
    opts.previousPayload === undefined ? undefined : parsePolicy(opts.previousPayload);
  const policy: ResidencyPolicy = {
    schema: POLICY_SCHEMA,
    version: previous === undefined ? 1 : previous.version + 1,
    previous: opts.previousPayload === undefined ? null : policyDigest(opts.previousPayload),
    issuedAt: opts.issuedAt.toISOString(),
    sites: opts.sites,
    regions: opts.regions,
    ...(opts.default === undefined ? {} : { default: opts.default }),
  };
  return encodePolicy(policy);
}

/**
 * Adds `key`'s signature over the payload to an envelope (a new one when
 * `existing` is undefined); refuses an envelope of another payload.
 */
export function signPolicy(payload: Uint8Array, key: KeyObject, existing?: string): string {
  parsePolicy(payload); // never sign what does not parse
  const signature = detachedSignature(key, policySigningMessage(payload));
  let others: { keyid: string; sig: string }[] = [];
  if (existing !== undefined) {
    const opened = envelopeOf(existing);
    if (Buffer.compare(Buffer.from(opened.payload), Buffer.from(payload)) !== 0) {
      throw new CodedError(
        'RESIDENCY_POLICY_MISMATCH',
        'the envelope carries another payload than the one given',
      );
    }
    others = opened.envelope.signatures
      .filter((s) => s.keyid !== signature.keyid)
      .map((s) => ({ keyid: s.keyid, sig: s.sig }));
  }
  return policyEnvelope(payload, [...others, signature]);
}

/** Appends the policy entry to the residency log (deduplicated) and waits for its witnessed receipt. */
export async function publishPolicy(opts: {
  envelope: string;
  logUrl: string;
  fetch?: typeof fetch;
}): Promise<{ index: bigint; receipt: string; digest: string }> {
  const { envelope, payload } = envelopeOf(opts.envelope);
  const entry = encodeResidencyLogEntry({ schema: RESIDENCY_LOG_SCHEMA, kind: 'policy', envelope });
  const client = new LogClient(opts.logUrl, opts.fetch === undefined ? {} : { fetch: opts.fetch });
  const added = await client.add(entry, { wait: true, dedup: true });
  if (added.receipt === undefined) {
    throw new CodedError('RESIDENCY_POLICY_NOT_WITNESSED', 'the residency log gave no receipt');
  }
  return { index: added.index, receipt: added.receipt, digest: policyDigest(payload) };
}
