/**
 * Release versions as the agent orders them: dot-separated parts compared
 * left to right, numerically when both parts are decimal numbers, else by
 * code units; a version that is a prefix of another is the older one.
 */

/** Negative when `a` is older than `b`, 0 when equal, positive when newer. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    if (/^[0-9]+$/.test(x) && /^[0-9]+$/.test(y)) {
      const d = BigInt(x) - BigInt(y);
      if (d !== 0n) return d < 0n ? -1 : 1;
      continue; // equal numbers written differently (leading zeros)
    }
    return x < y ? -1 : 1;
  }
  return 0;
}

/** The newest of `versions`, or undefined for none. */
export function newestVersion(versions: Iterable<string>): string | undefined {
  let newest: string | undefined;
  for (const v of versions) if (newest === undefined || compareVersions(v, newest) > 0) newest = v;
  return newest;
}
