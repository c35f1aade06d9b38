/**
 * What the assembly line records about a release, as its API hands it out:
 * the vendor writes these records, the supervisor and the CLI read them over
 * HTTP.
 */

/** Kinds of attestation a release record lists. */
export const ATTESTATION_KINDS = [
  'provenance',
  'link',
  'vsa',
  'approval',
  'review',
  'mismatch-report',
  'layout',
] as const;
export type AttestationKind = (typeof ATTESTATION_KINDS)[number];

export type ReleaseStatus = 'built' | 'approved' | 'rejected';

export interface ArtifactRef {
  readonly name: string;
  readonly sha256: string;
  readonly size: number;
}

export interface AttestationRef {
  readonly kind: AttestationKind;
  readonly sha256: string;
  readonly size: number;
  /** `builder` for what the assembly line signed itself, `supervisor` for uploads. */
  readonly by: 'builder' | 'supervisor';
  /** The key ids the signatures claim (not verified for uploads). */
  readonly keyids: readonly string[];
  /** For links, the file name in-toto-verify expects (`build.<keyid8>.link`). */
  readonly fileName?: string;
  /** RFC 3339 UTC. */
  readonly addedAt: string;
}

/** What the assembly line records about one release request. */
export interface ReleaseRecord {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly kind: 'rules' | 'command' | 'verdicts';
  /** The source repository URI (file URLs for local repositories). */
  readonly source: string;
  readonly commit: string;
  readonly sourceDateEpoch: number;
  readonly recipe: { readonly path: string; readonly sha256: string };
  readonly builderId: string;
  readonly isolated: boolean;
  readonly artifacts: readonly ArtifactRef[];
  readonly attestations: readonly AttestationRef[];
  readonly status: ReleaseStatus;
  /** RFC 3339 UTC. */
  readonly startedOn: string;
  readonly finishedOn: string;
}

const RELEASE_ID = /^[0-9a-hjkmnp-tv-z]{26}$/;

/** A release id: 26 lowercase Crockford base32 digits (10 of time, 16 random). */
export function isReleaseId(id: string): boolean {
  return RELEASE_ID.test(id);
}

/** A URI as builder and verifier ids must be: a scheme, then no whitespace, at most 1 KiB. */
export function isIdUri(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\S+$/.test(value) && value.length <= 1024;
}

/** `git+<uri>@<commit>`: the VSA's `resourceUri`, the source the artifacts were rebuilt from. */
export function releaseResourceUri(release: {
  readonly source: string;
  readonly commit: string;
}): string {
  const uri = release.source.startsWith('git+') ? release.source : `git+${release.source}`;
  return `${uri}@${release.commit}`;
}

/** The file name of a rules bundle: `<name>-<version>.tar`. */
export function rulesBundleName(recipe: { name: string; version: string }): string {
  return `${recipe.name}-${recipe.version}.tar`;
}
