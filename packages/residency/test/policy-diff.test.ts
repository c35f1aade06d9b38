import { describe, expect, it } from 'vitest';
import { diffPolicies, isEmptyDiff, type ResidencyPolicy } from './helpers.js';
import { other, policyV1, site, zurich } from './fixtures.js';

const next = (edit: Partial<ResidencyPolicy>): ResidencyPolicy => ({
  ...policyV1,
  version: policyV1.version + 1,
  ...edit,
});

describe('diffPolicies', () => {
  it('is empty between a version and itself', () => {
    const d = diffPolicies(policyV1, policyV1);
    expect(isEmptyDiff(d)).toBe(true);
    expect(d.defaultChanged).toBeUndefined();
  });

  it('names regions moved, added and removed, sorted', () => {
    const [first, gone] = Object.keys(policyV1.regions).filter(
      (r) => policyV1.regions[r] === zurich.id,
    );
    expect(gone).toBeDefined();
    const regions: Record<string, string> = Object.fromEntries(
      Object.entries(policyV1.regions).filter(([r]) => r !== gone),
    );
    regions[first as string] = other.id;
    regions.ZZ = zurich.id;
    const d = diffPolicies(policyV1, next({ regions }));
    expect(d.regionsMoved).toEqual([{ region: first, from: zurich.id, to: other.id }]);
    expect(d.regionsAdded).toEqual([{ region: 'ZZ', site: zurich.id }]);
    expect(d.regionsRemoved).toEqual([{ region: gone, site: policyV1.regions[gone as string] }]);
    expect(isEmptyDiff(d)).toBe(false);
    expect(d).toMatchObject({ from: policyV1.version, to: policyV1.version + 1 });
  });

  it('names sites added, removed and changed field by field, and a new default', () => {
    const paris = site('fr-par', 'FR', 8453);
    const moved = { ...zurich, ingestUrl: 'http://127.0.0.1:9999/' };
    const b = next({
      sites: [moved, paris],
      regions: Object.fromEntries(
        Object.entries(policyV1.regions).filter(([, s]) => s === zurich.id),
      ),
      default: paris.id,
    });
    const d = diffPolicies(policyV1, b);
    expect(d.sitesAdded.map((s) => s.id)).toEqual(['fr-par']);
    expect(d.sitesRemoved.map((s) => s.id)).toEqual([other.id]);
    expect(d.sitesChanged).toEqual([
      { site: zurich.id, field: 'ingestUrl', from: zurich.ingestUrl, to: moved.ingestUrl },
    ]);
    expect(d.defaultChanged).toEqual({ from: policyV1.default ?? null, to: 'fr-par' });
  });
});
