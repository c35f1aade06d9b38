/**
 * `npm run bench` in packages/crypto: each operation on both engines in the
 * same run. The node:crypto row is the baseline; the @noble row's note says
 * how many times slower it is. This table is why Node keeps node:crypto and
 * only browsers get @noble.
 */
import { measure, printRateTable, type RateRow } from '@glasshouse/bench-kit';
import * as node from '../src/node.js';
import * as web from '../src/web.js';

const node65 = new Uint8Array(65).fill(7);
const mib = new Uint8Array(1 << 20).fill(9);
const seed = new Uint8Array(32).fill(1);
const message = new Uint8Array(200).fill(3);
const publicKey = node.ed25519PublicKey(seed);
const signature = node.ed25519Sign(seed, message);

const cases: { what: string; unit: string; run: (impl: typeof node) => void; ms?: number }[] = [
  { what: 'SHA-256 of 65 bytes (a Merkle node)', unit: 'hashes/s', run: (i) => i.sha256(node65) },
  { what: 'SHA-256 of 1 MiB', unit: 'MiB/s', run: (i) => i.sha256(mib), ms: 500 },
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
  const rate = (impl: typeof node): number =>
    measure((n) => {
      for (let k = 0; k < n; k++) c.run(impl);
    }, c.ms ?? 1000);
  const baseline = rate(node);
  const noble = rate(web);
  rows.push({ what: `${c.what}, node:crypto (baseline)`, rate: baseline, unit: c.unit, note: '' });
  rows.push({
    what: `${c.what}, @noble`,
    rate: noble,
    unit: c.unit,
    note: `${(baseline / noble).toFixed(1)}× slower than node:crypto`,
  });
}
printRateTable(rows);
