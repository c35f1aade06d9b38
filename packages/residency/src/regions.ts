/**
 * Regions and their countries are data (regions.json), not code: changing
 * which countries make up a region is a reviewed data change. Every ISO
 * 3166-1 alpha-2 code is in exactly one region (tested).
 */
import table from './regions.json' with { type: 'json' };
import { ResidencyError } from './errors.js';

/** A region code: `[A-Z][A-Z-]{1,15}`. */
export const REGION_CODE = /^[A-Z][A-Z-]{1,15}$/;
/** ISO 3166-1 alpha-2. */
export const COUNTRY_CODE = /^[A-Z]{2}$/;

export interface Region {
  readonly name: string;
  readonly countries: readonly string[];
}

/** The regions table, frozen. */
export const REGIONS: Readonly<Record<string, Region>> = Object.freeze(
  Object.fromEntries(
    Object.entries(table as Record<string, Region>).map(([code, region]) => [
      code,
      Object.freeze({ name: region.name, countries: Object.freeze([...region.countries]) }),
    ]),
  ),
);

const COUNTRY_TO_REGION = new Map<string, string>(
  Object.entries(REGIONS).flatMap(([code, region]) =>
    region.countries.map((c) => [c, code] as const),
  ),
);

/** The region codes of the table, in table order. */
export function regionCodes(): string[] {
  return Object.keys(REGIONS);
}

/** True when `code` is a region of the table. */
export function isKnownRegion(code: unknown): code is string {
  return typeof code === 'string' && Object.hasOwn(REGIONS, code);
}

/** Throws REGION_UNKNOWN unless `code` is a region of the table. */
export function assertKnownRegion(code: unknown): asserts code is string {
  if (!isKnownRegion(code)) {
    throw new ResidencyError('REGION_UNKNOWN', 'the region is not in the regions table', {
      evidence: { region: typeof code === 'string' ? code.slice(0, 32) : typeof code },
    });
  }
}

/** The region a country (ISO 3166-1 alpha-2, any case) belongs to, or REGION_UNKNOWN. */
export function regionOfCountry(country: string): string {
  const region = COUNTRY_TO_REGION.get(country.toUpperCase());
  if (region === undefined) {
    throw new ResidencyError('REGION_UNKNOWN', 'no region lists this country', {
      evidence: { country: country.slice(0, 8) },
    });
  }
  return region;
}
