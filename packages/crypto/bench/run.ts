/**
 * `npm run bench` in packages/crypto: each operation on both engines in the
 * same run. The node:crypto row is the baseline; the browser engine's row
 * says how many times slower it is. This table is why Node keeps
 * node:crypto (except a one-shot SHA-256 of up to two blocks, see
 * src/node.ts). The baseline row calls OpenSSL directly (`crypto.hash`) for
 * every size; the browser engine's row is this package's one-shot
 * (src/sha256.ts), and a third row runs @noble's own for comparison.
 */
import { measure, printRateTable, type RateRow } from '@glasshouse/bench-kit';
import { hash } from 'node:crypto';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import * as node from '../src/node.js';
import * as web from '../src/web.js';

const node65 = new Uint8Array(65).fill(7);
const mib = new Uint8Array(1 << 20).fill(9);
const seed = new Uint8Array(32).fill(1);
const message = new Uint8Array(200).fill(3);
const publicKey = node.ed25519PublicKey(seed);
const signature = node.ed25519Sign(seed, message);

type Impl = Pick<typeof node, 'sha256' | 'ed25519Verify' | 'ed25519Sign'>;
const nobleSha: Impl = { ...web, sha256: (d) => nobleSha256(d) };
const openssl: Impl = { ...node, sha256: (d) => hash('sha256', d, 'buffer') };

const cases: {
  what: string;
  unit: string;
  run: (impl: Impl) => void;
  ms?: number;
  alsoNoble?: boolean;
}[] = [
  {
    what: 'SHA-256 of 65 bytes (a Merkle node)',
    unit: 'hashes/s',
    run: (i) => i.sha256(node65),
    alsoNoble: true,
  },
  {
    what: 'SHA-256 of 1 MiB',
    unit: 'MiB/s',
    run: (i) => i.sha256(mib),
    ms: 500,
    alsoNoble: true,
  },
  {
    what: 'Ed25519 verify (200-byte message)',
    unit: 'verifications/s',
    run: (i) => {
      if (!i.ed25519Verify(publicKey, message, signature)) throw new Error('verify failed');
    },
  },
  {
    what: 'Ed25519 sign (200-byte message)',
    unit: 'signatures/s',
    run: (i) => i.ed25519Sign(seed, message),
  },
];

const rows: RateRow[] = [];
for (const c of cases) {
  const rate = (impl: Impl): number =>
    measure((n) => {
      for (let k = 0; k < n; k++) c.run(impl);
    }, c.ms ?? 1000);
  const baseline = rate(openssl);
  const slower = (r: number): string =>
    r >= baseline
      ? `${(r / baseline).toFixed(1)}× faster than node:crypto`
      : `${(baseline / r).toFixed(1)}× slower than node:crypto`;
  rows.push({ what: `${c.what}, node:crypto (baseline)`, rate: baseline, unit: c.unit, note: '' });
  const browser = rate(web);
  rows.push({
    what: `${c.what}, browser engine`,
    rate: browser,
    unit: c.unit,
    note: slower(browser),
  });
  if (c.alsoNoble === true) {
    const noble = rate(nobleSha);
    rows.push({ what: `${c.what}, @noble's own`, rate: noble, unit: c.unit, note: slower(noble) });
  }
}
printRateTable(rows);
