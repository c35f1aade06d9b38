/**
 * `npx tsx bench/verify.ts [--updates N]`: how long `agent update` takes to
 * verify a new release before it downloads the bundle — TUF refresh through
 * tuf-js (metadata over loopback), the release-log receipt against the
 * witness policy, consistency with the last checkpoint seen, the VSA and the
 * provenance — timed from the start of the update to its "supervision:"
 * progress line, for N successive releases (default 20). Beside it, the
 * pure part alone (receipt + VSA + provenance checks, no I/O) is timed on
 * the same bytes, and one tuf-js refresh of an up-to-date client as the
 * baseline.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { updateAgent } from '../src/index.js';
import { startWorld } from '../test/fixtures.js';

const TARGET_MS = 50;

function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { updates: { type: 'string', default: '20' } } });
  const updates = Number(values.updates);
  if (!Number.isSafeInteger(updates) || updates < 1) throw new Error('--updates N, N ≥ 1');
  console.log(`@glasshouse/agent update-verification benchmark — ${new Date().toISOString()}`);
  console.log(
    `load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`,
  );

  const world = await startWorld();
  const agent = await world.newAgent();
  const verification: number[] = [];
  const upToDate: number[] = [];
  try {
    for (let i = 1; i <= updates; i++) {
      await world.publish(`1.0.${i}`);
      let verifiedAt: number | undefined;
      const start = performance.now();
      const outcome = await updateAgent({
        dir: agent.dir,
        onProgress: (line) => {
          if (line.startsWith('supervision:')) verifiedAt = performance.now();
        },
      });
      if (outcome.status !== 'installed' || verifiedAt === undefined) {
        throw new Error(`update ${i} did not install: ${outcome.status}`);
      }
      verification.push(verifiedAt - start);
      // Baseline: the same agent again, now up to date (a tuf-js refresh and nothing else).
      const t = performance.now();
      const again = await updateAgent({ dir: agent.dir });
      if (again.status !== 'up-to-date') throw new Error('expected up-to-date');
      upToDate.push(performance.now() - t);
      if (i % 5 === 0) process.stderr.write(`[bench] ${i}/${updates} updates\n`);
    }
  } finally {
    await world.close();
  }
  verification.sort((a, b) => a - b);
  upToDate.sort((a, b) => a - b);
  const p50 = percentile(verification, 50);
  const p99 = percentile(verification, 99);
  const base = percentile(upToDate, 50);
  console.log('');
  console.log(
    '| measurement                                             | p50 ms | p99 ms | × refresh | target  | verdict |',
  );
  console.log(
    '|---------------------------------------------------------|-------:|-------:|----------:|---------|---------|',
  );
  console.log(
    `| tuf-js refresh of an up-to-date agent (baseline)        | ${base.toFixed(1).padStart(6)} | ${percentile(upToDate, 99).toFixed(1).padStart(6)} |     1.00× |         |         |`,
  );
  console.log(
    `| update verification, excluding the bundle download      | ${p50.toFixed(1).padStart(6)} | ${p99.toFixed(1).padStart(6)} | ${(p50 / base).toFixed(2).padStart(8)}× | < 50 ms | ${p99 < TARGET_MS ? 'met    ' : p50 < TARGET_MS ? 'p50 met' : 'MISSED '} |`,
  );
  console.log('');
  console.log(
    `${updates} successive releases of the demo rules; verification = TUF refresh over loopback + receipt + consistency proof + VSA + provenance`,
  );
  console.log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`,
  );
}

await main();
