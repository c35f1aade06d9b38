/**
 * `npm run bench` in packages/access: the access path (bench/gateway.ts)
 * beside the access log's own add-and-wait baseline in the same run, and the
 * index benchmark (bench/index.ts, `benchIndex()`) when it is there. Options:
 * `--samples N`, `--concurrency N`, `--requests N`.
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { formatTable } from '@glasshouse/bench-kit';
import { type BenchRow, benchGateway } from './gateway.js';

function option(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? undefined : Number(process.argv[i + 1]);
  if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) {
    process.stderr.write(`--${name} takes a positive integer\n`);
    process.exit(2);
  }
  return v;
}

async function main(): Promise<void> {
  const progress = (line: string): void => {
    process.stderr.write(`bench: ${line}\n`);
  };
  const rows: BenchRow[] = [];
  const samples = option('samples');
  const concurrency = option('concurrency');
  const requests = option('requests');
  // All in one process, then as deployed (one process per service).
  for (const processes of [false, true]) {
    rows.push(
      ...(await benchGateway({
        progress,
        processes,
        ...(samples === undefined ? {} : { samples }),
        ...(concurrency === undefined ? {} : { concurrency }),
        ...(requests === undefined ? {} : { requests }),
      })),
    );
  }
  const indexBench = new URL('index.ts', import.meta.url);
  if (existsSync(indexBench)) {
    const mod = (await import(indexBench.href)) as {
      benchIndex?: () => Promise<readonly BenchRow[]>;
    };
    if (mod.benchIndex !== undefined) rows.push(...(await mod.benchIndex()));
  }
  process.stdout.write(
    `${formatTable(
      ['measurement', 'value', 'unit', 'note'],
      rows.map((r) => [r.what, r.value, r.unit, r.note]),
    )}\n\n${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at the end (shared machine)\n`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
