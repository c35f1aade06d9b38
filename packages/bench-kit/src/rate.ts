import * as crypto from 'node:crypto';

/** Runs `fn(n)` with growing n until it takes ≥ `minMs`; returns operations per second. */
export function measure(fn: (n: number) => void, minMs = 1000): number {
  let n = 1000;
  for (;;) {
    const t0 = process.hrtime.bigint();
    fn(n);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms >= minMs) return (n / ms) * 1000;
    n = Math.min(n * 4, Math.ceil((n * minMs * 1.2) / Math.max(ms, 1)));
  }
}

/**
 * The baseline the tree benchmarks compare with: raw SHA-256 of a 65-byte
 * input (an RFC 6962 interior-node preimage, or a 64-byte entry's leaf).
 */
export function rawSha256Rate(): { rate: number; how: string } {
  const input = crypto.randomBytes(65);
  const oneShot = (
    crypto as unknown as { hash?: (alg: string, d: Uint8Array, enc: 'buffer') => Buffer }
  ).hash;
  const rate = measure((n) => {
    if (oneShot) for (let i = 0; i < n; i++) oneShot('sha256', input, 'buffer');
    else for (let i = 0; i < n; i++) crypto.createHash('sha256').update(input).digest();
  });
  return { rate, how: oneShot ? 'crypto.hash one-shot' : 'createHash' };
}
