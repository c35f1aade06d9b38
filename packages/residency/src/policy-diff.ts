/**
 * What changed between two residency policy versions: the regions that moved
 * to another site, regions added to or removed from the explicit list, the
 * default site, and sites added, removed or changed (country, ingest-log key,
 * ingest URL). Pure: the portal shows it beside both versions' signatures.
 */
import type { ResidencyPolicy, Site } from './policy.js';

export interface SiteChange {
  readonly site: string;
  readonly field: 'country' | 'verifierKey' | 'ingestUrl';
  readonly from: string;
  readonly to: string;
}

export interface PolicyDiff {
  readonly from: number;
  readonly to: number;
  /** Regions listed in both versions whose site changed. */
  readonly regionsMoved: readonly { region: string; from: string; to: string }[];
  readonly regionsAdded: readonly { region: string; site: string }[];
  readonly regionsRemoved: readonly { region: string; site: string }[];
  /** Set when the default site changed (null: no default). */
  readonly defaultChanged: { from: string | null; to: string | null } | undefined;
  readonly sitesAdded: readonly Site[];
  readonly sitesRemoved: readonly Site[];
  readonly sitesChanged: readonly SiteChange[];
}

const FIELDS = ['country', 'verifierKey', 'ingestUrl'] as const;

/** The changes from `a` to `b`, each list sorted by region or site id. */
export function diffPolicies(a: ResidencyPolicy, b: ResidencyPolicy): PolicyDiff {
  const byRegion = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  const regionsMoved: { region: string; from: string; to: string }[] = [];
  const regionsAdded: { region: string; site: string }[] = [];
  const regionsRemoved: { region: string; site: string }[] = [];
  for (const region of Object.keys(b.regions).sort(byRegion)) {
    const from = a.regions[region];
    const to = b.regions[region] as string;
    if (from === undefined) regionsAdded.push({ region, site: to });
    else if (from !== to) regionsMoved.push({ region, from, to });
  }
  for (const region of Object.keys(a.regions).sort(byRegion)) {
    if (b.regions[region] === undefined) {
      regionsRemoved.push({ region, site: a.regions[region] as string });
    }
  }
  const aSites = new Map(a.sites.map((s) => [s.id, s]));
  const bSites = new Map(b.sites.map((s) => [s.id, s]));
  const sitesChanged: SiteChange[] = [];
  for (const s of [...b.sites].sort((x, y) => byRegion(x.id, y.id))) {
    const old = aSites.get(s.id);
    if (old === undefined) continue;
    for (const field of FIELDS) {
      if (old[field] !== s[field])
        sitesChanged.push({ site: s.id, field, from: old[field], to: s[field] });
    }
  }
  const aDefault = a.default ?? null;
  const bDefault = b.default ?? null;
  return {
    from: a.version,
    to: b.version,
    regionsMoved,
    regionsAdded,
    regionsRemoved,
    defaultChanged: aDefault === bDefault ? undefined : { from: aDefault, to: bDefault },
    sitesAdded: b.sites.filter((s) => !aSites.has(s.id)),
    sitesRemoved: a.sites.filter((s) => !bSites.has(s.id)),
    sitesChanged,
  };
}

/** Whether the diff holds no change at all. */
export function isEmptyDiff(d: PolicyDiff): boolean {
  return (
    d.regionsMoved.length === 0 &&
    d.regionsAdded.length === 0 &&
    d.regionsRemoved.length === 0 &&
    d.defaultChanged === undefined &&
    d.sitesAdded.length === 0 &&
    d.sitesRemoved.length === 0 &&
    d.sitesChanged.length === 0
  );
}
