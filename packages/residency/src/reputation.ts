/**
 * The answer of a site's reputation API (`GET /reputation/<sha256>` and the
 * batch POST), and its parser for clients.
 */
import { exactObject, matching, preview, rfc3339, type Fail } from './check.js';
import { ResidencyError } from './errors.js';

export const REPUTATION_VERDICTS = ['known-bad', 'known-good', 'unknown'] as const;
export type ReputationVerdict = (typeof REPUTATION_VERDICTS)[number];
export const REPUTATION_SOURCES = ['telemetry', 'verdict-list'] as const;
export type ReputationSource = (typeof REPUTATION_SOURCES)[number];

export interface Reputation {
  readonly sha256: string;
  readonly verdict: ReputationVerdict;
  readonly firstSeen: string | null;
  readonly detections: number;
  readonly source: readonly ReputationSource[];
}

const invalid: Fail = (what, evidence) => {
  throw new ResidencyError(
    'REPUTATION_INVALID',
    `reputation: ${what}`,
    evidence ? { evidence } : {},
  );
};

/** Checks one reputation answer (a parsed JSON value): REPUTATION_INVALID otherwise. */
export function checkReputation(value: unknown): Reputation {
  const v = exactObject(
    value,
    'the answer',
    ['sha256', 'verdict', 'firstSeen', 'detections', 'source'],
    [],
    invalid,
  );
  const sha256 = matching(v.sha256, /^[0-9a-f]{64}$/, 'sha256', invalid);
  if (!REPUTATION_VERDICTS.includes(v.verdict as ReputationVerdict)) {
    invalid('verdict is not known-bad, known-good or unknown', { verdict: preview(v.verdict) });
  }
  const firstSeen = v.firstSeen === null ? null : rfc3339(v.firstSeen, 'firstSeen', invalid);
  if (typeof v.detections !== 'number' || !Number.isSafeInteger(v.detections) || v.detections < 0) {
    invalid('detections is not a non-negative integer');
  }
  if (
    !Array.isArray(v.source) ||
    v.source.length > REPUTATION_SOURCES.length ||
    !v.source.every((s) => REPUTATION_SOURCES.includes(s as ReputationSource)) ||
    new Set(v.source).size !== v.source.length
  ) {
    invalid('source is not a list of distinct "telemetry" / "verdict-list"');
  }
  return {
    sha256,
    verdict: v.verdict as ReputationVerdict,
    firstSeen,
    detections: v.detections,
    source: v.source as ReputationSource[],
  };
}
