import type { ReleaseRecord } from '@glasshouse/release-format';

/**
 * What the supervisor needs from a vendor's assembly line. The supervisor
 * reaches the vendor only through this port; the vendor's HTTP client
 * (`AssemblyClient`) implements it.
 */
export interface AssemblyApi {
  /** The API's base URL; attestation URIs in the VSA are built from it. */
  readonly baseUrl: string;
  /** MUST reject with a coded error when there is no such release. */
  getRelease(id: string): Promise<ReleaseRecord>;
  /** The artifact's bytes as served (the supervisor checks their digest). */
  artifact(id: string, name: string): Promise<Uint8Array>;
  /** An attestation's bytes by SHA-256 (the supervisor checks the digest). */
  attestation(id: string, sha256: string): Promise<Uint8Array>;
  /** Uploads a signed attestation; resolves with the updated record. */
  addAttestation(id: string, body: Readonly<Record<string, unknown>>): Promise<ReleaseRecord>;
}
