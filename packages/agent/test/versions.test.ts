import { describe, expect, it } from 'vitest';
import { compareVersions, newestVersion } from '../src/versions.js';

describe('compareVersions', () => {
  it('orders dot-separated parts numerically, a prefix first', () => {
    expect(compareVersions('1.10.0', '1.9.0')).toBeGreaterThan(0);
    expect(compareVersions('1.0', '1.0.0')).toBeLessThan(0);
    expect(compareVersions('2.0.0', '2.0.0')).toBe(0);
    expect(compareVersions('1.0.01', '1.0.1')).toBe(0);
    expect(compareVersions('1.0.0-rc1', '1.0.0-rc2')).toBeLessThan(0);
    expect(newestVersion(['1.2.0', '1.10.0', '1.9.9'])).toBe('1.10.0');
    expect(newestVersion([])).toBeUndefined();
  });
});
