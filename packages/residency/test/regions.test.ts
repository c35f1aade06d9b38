import { describe, expect, it } from 'vitest';
import {
  assertKnownRegion,
  expectCode,
  hasCode,
  REGION_CODE,
  regionCodes,
  regionOfCountry,
  REGIONS,
} from './helpers.js';

/** Codes Intl knows that are not current ISO 3166-1 alpha-2 country codes (reserved, withdrawn, groupings). */
const NOT_COUNTRIES = new Set(
  'AC AN BU CP CQ CS DD DG DY EA EU EZ FX HV IC NH QO RH SU TA TP UK UN VD XA XB XK YD YU ZR ZZ'.split(
    ' ',
  ),
);

describe('the regions table (data, not code)', () => {
  it('has the regions of the demo policy and well-formed codes', () => {
    for (const code of ['NA', 'EU', 'AU', 'KR', 'JP', 'SG', 'LATAM', 'MEA', 'APAC-OTHER']) {
      expect(regionCodes()).toContain(code);
    }
    for (const code of regionCodes()) expect(code).toMatch(REGION_CODE);
  });

  it('puts every ISO 3166-1 alpha-2 country in exactly one region', () => {
    const names = new Intl.DisplayNames(['en'], { type: 'region' });
    const seen = new Map<string, string>();
    for (const [code, region] of Object.entries(REGIONS)) {
      for (const country of region.countries) {
        expect(seen.get(country), `${country} in ${code} and ${seen.get(country)}`).toBeUndefined();
        seen.set(country, code);
        expect(names.of(country), country).not.toBe(country);
      }
    }
    const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const missing: string[] = [];
    for (const a of letters) {
      for (const b of letters) {
        const cc = a + b;
        if (!NOT_COUNTRIES.has(cc) && names.of(cc) !== cc && !seen.has(cc)) missing.push(cc);
      }
    }
    expect(missing).toEqual([]);
    expect(seen.size).toBe(249);
  });

  it('maps countries to regions, any case; unknown country is REGION_UNKNOWN', () => {
    expect(regionOfCountry('US')).toBe('NA');
    expect(regionOfCountry('de')).toBe('EU');
    expect(regionOfCountry('CH')).toBe('EUROPE-OTHER');
    expect(regionOfCountry('KR')).toBe('KR');
    expect(regionOfCountry('BR')).toBe('LATAM');
    for (const bad of ['XX', 'ZZ', '', 'USA', '__proto__']) {
      expectCode(() => regionOfCountry(bad), 'REGION_UNKNOWN');
    }
  });

  it('assertKnownRegion refuses what is not a key of the table, prototype names included', () => {
    expect(() => {
      assertKnownRegion('EU');
    }).not.toThrow();
    for (const bad of ['XX', 'eu', 'toString', '__proto__', 42]) {
      try {
        assertKnownRegion(bad);
        expect.unreachable();
      } catch (err) {
        expect(hasCode(err, 'REGION_UNKNOWN')).toBe(true);
      }
    }
  });
});
