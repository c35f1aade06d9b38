/**
 * `npm run bench` in packages/release: how long a supervised rules release
 * takes for a large generated rule set, beside the same work done with
 * Debian's tools in the same run on the same files (the baseline): `yarac`
 * compiling the rules, then `yara` (default threads) over every sample and
 * clean file.
 *
 *   npx tsx bench/run.ts              10,000 rules
 *   npx tsx bench/run.ts --quick      500 rules
 *   npx tsx bench/run.ts --rules N    N rules
 *   npx tsx bench/run.ts --runs N     N timed builds per side (default: 3, or 1 when a build takes > 20 s)
 *
 * Rows: `yarac` compile + `yara` over the samples and clean files
 * (baseline, median of 3), the bare YARA-X compile (median of 3, for
 * context), the vendor's build (a real assembly line: checkout, recipe,
 * YARA-X compile and every sample and clean test in the engine process,
 * Debian cross-check, tar, signatures, records) and the supervisor's
 * rebuild (`supervisor-rebuild.ts`), each with a target of at most 2× the
 * baseline, and their sum.
 *
 * It runs the built package (`@glasshouse/release`, what the `glasshouse`
 * command runs; `npm run bench` builds it first), so the build process it
 * starts is plain JavaScript, not TypeScript compiled on the fly.
 *
 * Progress goes to stderr, the table to stdout. The temp directory (the
 * generated repository, the assembly line, scratch space) is removed on
 * every exit path.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  AssemblyClient,
  buildAssemblyServer,
  DEFAULT_DEBIAN_YARA,
  detectDebianYara,
  initAssemblyDir,
  initSupervisorDir,
  normalizeSourceUri,
  openAssemblyLine,
  openSupervisor,
  run,
} from '@glasshouse/release';
import { formatTable } from '@glasshouse/bench-kit';
import { selectYaraEngine, type RuleSource } from '@glasshouse/bundle';
import { startHeartbeat } from './heartbeat.js';
import { generateRulesRepo, RULES_PER_FILE, type GeneratedRepo } from './generate-rules.js';
import { measureSupervisorRebuild } from './supervisor-rebuild.js';

const DEFAULT_RULES = 10_000;
const QUICK_RULES = 500;
const COMPILE_RUNS = 3;
const MAX_BUILD_RUNS = 3;
/** A vendor build slower than this is not repeated (keeps the 10k run within minutes). */
const REPEAT_UNDER_MS = 20_000;
const TARGET_RATIO = 2;

const say = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};
const secs = (ms: number): string => (ms / 1000).toFixed(ms < 10_000 ? 3 : 2);
const ratio = (x: number, of: number): string => `${(x / of).toFixed(2)}×`;
const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function spread(xs: readonly number[]): string {
  if (xs.length === 1) return '1 run';
  return `median of ${xs.length} (${xs.map(secs).join(', ')} s)`;
}

interface Options {
  rules: number;
  runs: number | undefined;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      rules: { type: 'string' },
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
    },
    strict: true,
  });
  const count = (value: string | undefined, name: string, max: number): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1 || n > max) {
      throw new Error(`--${name} must be an integer from 1 to ${max}, not ${value}`);
    }
    return n;
  };
  if (values.quick && values.rules !== undefined) {
    throw new Error('--quick and --rules are exclusive');
  }
  return {
    rules: count(values.rules, 'rules', 1_000_000) ?? (values.quick ? QUICK_RULES : DEFAULT_RULES),
    runs: count(values.runs, 'runs', 10),
  };
}

/**
 * Runs one build with its progress lines printed (time since the build
 * started) and a heartbeat on stderr while a phase runs long.
 */
async function tracked<T>(
  label: string,
  build: (onProgress: (message: string) => void) => Promise<T>,
): Promise<{ value: T; lines: string[] }> {
  const t0 = performance.now();
  const lines: string[] = [];
  const heartbeat = startHeartbeat(label);
  try {
    const value = await build((message) => {
      const line = `+${((performance.now() - t0) / 1000).toFixed(2).padStart(7)} s  ${message.slice(0, 160)}`;
      lines.push(line);
      say(`${label}: ${line}`);
      heartbeat.phase(message);
    });
    return { value, lines };
  } finally {
    await heartbeat.stop();
  }
}

interface Row {
  what: string;
  ms: number | undefined;
  target: string;
  verdict: string;
  notes: string;
}

function printTable(rows: readonly Row[], baselineMs: number): void {
  const body = rows.map((r) => [
    r.what,
    r.ms === undefined ? 'n/a' : secs(r.ms),
    r.ms === undefined ? '—' : ratio(r.ms, baselineMs),
    r.target,
    r.verdict,
    r.notes,
  ]);
  const head = ['what', 'seconds', '× baseline', 'target', 'verdict', 'notes'];
  process.stdout.write(`${formatTable(head, body, [1, 2])}\n`);
}

async function compileRuns(label: string, fn: () => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 1; i <= COMPILE_RUNS; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
    say(`${label} ${i}/${COMPILE_RUNS}: ${secs(times[times.length - 1]!)} s`);
  }
  return times;
}

let tempDir: string | undefined;

async function main(): Promise<void> {
  const options = parseOptions();
  const started = performance.now();
  const cpu = cpus();
  const load = (): string =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(', ');
  const debian = await detectDebianYara(DEFAULT_DEBIAN_YARA);
  const { engine, notice } = selectYaraEngine('auto');
  if (notice !== undefined) say(notice);
  const header = [
    `@glasshouse/release benchmark — ${new Date().toISOString()}`,
    `rules: ${int(options.rules)} generated rules, ${RULES_PER_FILE} per .yar file, one sample each, plus clean files`,
    `machine: ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `${process.platform} ${release()}; node ${process.version}; load average before the run: ${load()}`,
    `engines: yara-x ${engine.version} (${engine.binding}, ${engine.package}; builds compile and test in a child process); ` +
      (debian === undefined
        ? 'Debian yara/yarac: not installed'
        : `Debian yara/yarac ${debian} (${DEFAULT_DEBIAN_YARA.yarac}, ${DEFAULT_DEBIAN_YARA.yara})`),
  ];
  process.stdout.write(`${header.join('\n')}\n`);
  if (debian === undefined) {
    process.stdout.write(
      'yara/yarac are not installed: the Debian baseline cannot be measured; the bare yara-x compile is the baseline instead\n',
    );
  }

  const dir = await mkdtemp(join(tmpdir(), 'glasshouse-release-bench-'));
  tempDir = dir;
  const scratch = join(dir, 'scratch');
  await mkdir(scratch);

  // 1. The recipe repository.
  say(`generating ${int(options.rules)} rules with samples in ${dir}/repo`);
  let t0 = performance.now();
  const repo: GeneratedRepo = await generateRulesRepo(join(dir, 'repo'), { rules: options.rules });
  say(
    `generated and committed ${repo.ruleFiles.length} rule files (${mib(repo.ruleBytes)} MiB), ` +
      `${int(repo.samples)} samples (${mib(repo.sampleBytes)} MiB), ${repo.cleanFiles} clean files ` +
      `in ${secs(performance.now() - t0)} s; commit ${repo.commit}`,
  );

  // 2. Baseline: yarac, all files into one compiled output, then yara over every sample and clean file.
  let yaracTimes: number[] | undefined;
  if (debian !== undefined) {
    const out = join(dir, 'bare.yarc');
    say(
      `yarac + yara -r: ${repo.ruleFiles.length} files → one compiled output, then ${int(repo.samples + repo.cleanFiles)} files scanned, ${COMPILE_RUNS} runs`,
    );
    yaracTimes = await compileRuns('yarac + yara', async () => {
      const r = await run(DEFAULT_DEBIAN_YARA.yarac, [...repo.ruleFiles, out]);
      if (r.code !== 0) throw new Error(`yarac exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
      for (const inputs of ['samples', 'clean']) {
        const scan = await run(DEFAULT_DEBIAN_YARA.yara, ['-C', '-r', out, join(repo.dir, inputs)]);
        if (scan.code !== 0)
          throw new Error(`yara exited ${scan.code}: ${scan.stderr.slice(0, 2000)}`);
      }
    });
  }

  // 3. A bare yara-x compile of the same sources (engine already loaded).
  const sources: RuleSource[] = [];
  for (const file of repo.ruleFiles)
    sources.push({ path: file, text: await readFile(file, 'utf8') });
  engine.compile([{ path: 'warm-up', text: 'rule warm_up { condition: false }' }]).free();
  say(`yara-x: compile of ${sources.length} sources, ${COMPILE_RUNS} runs`);
  const yaraXTimes = await compileRuns('yara-x', () => {
    engine.compile(sources).free();
    return Promise.resolve();
  });

  const baselineMs = median(yaracTimes ?? yaraXTimes);

  // 4. The vendor's build on a real assembly line.
  const assemblyDir = join(dir, 'assembly');
  const builder = await initAssemblyDir({ dir: assemblyDir });
  // The supervisor, with its own directory and keys, pinned to each other as operators would.
  const supervisorDir = join(dir, 'supervisor');
  const { identity: supervisorIdentity } = await initSupervisorDir({
    dir: supervisorDir,
    policy: { requireReview: false, reviewers: [] },
    builder: { builderId: builder.builderId, publicKeyPem: builder.publicKeyPem },
  });
  await initAssemblyDir({ dir: assemblyDir, supervisorKeyPem: supervisorIdentity.publicKeyPem });
  const line = await openAssemblyLine({
    dir: assemblyDir,
    debianYara: 'auto',
    scratchDir: scratch,
  });
  const server = buildAssemblyServer({ line });
  const client = new AssemblyClient(await server.listen({ host: '127.0.0.1', port: 0 }));
  const supervisor = await openSupervisor({
    dir: supervisorDir,
    debianYara: 'auto',
    scratchDir: scratch,
  });
  const releaseIds: string[] = [];
  const source = normalizeSourceUri(repo.dir);
  const vendorTimes: number[] = [];
  let vendorLines: string[] = [];
  let vendorSha256 = '';
  let runs = options.runs;
  try {
    say(
      `vendor build: assembly line in ${assemblyDir}, sandbox ${line.sandbox.kind}, Debian yara 'auto'`,
    );
    for (let i = 1; i <= (runs ?? MAX_BUILD_RUNS); i++) {
      t0 = performance.now();
      const { value: record, lines } = await tracked(`vendor build ${i}`, (onProgress) =>
        line.build({ source, commit: repo.commit }, onProgress),
      );
      vendorTimes.push(performance.now() - t0);
      vendorLines = lines;
      const artifact = record.artifacts[0];
      if (artifact === undefined) throw new Error('the vendor build recorded no artifact');
      if (vendorSha256 !== '' && artifact.sha256 !== vendorSha256) {
        throw new Error(`vendor build ${i} gave another bundle: ${artifact.sha256}`);
      }
      vendorSha256 = artifact.sha256;
      releaseIds.push(record.id);
      say(`vendor build ${i}: ${secs(vendorTimes[i - 1]!)} s, bundle sha256:${vendorSha256}`);
      if (runs === undefined) {
        runs = vendorTimes[0]! < REPEAT_UNDER_MS ? MAX_BUILD_RUNS : 1;
        if (runs === 1)
          say(`one build took over ${REPEAT_UNDER_MS / 1000} s: timing one run per side`);
      }
    }
  } catch (err) {
    await server.close();
    line.close();
    throw err;
  }

  // 5. The supervisor's rebuild of each release the vendor built.
  const rebuildTimes: number[] = [];
  let rebuildWhat = '';
  let reproduced = true;
  try {
    for (const [i, releaseId] of releaseIds.entries()) {
      const { value: m } = await tracked(`supervisor rebuild ${i + 1}`, (onProgress) =>
        measureSupervisorRebuild({
          client,
          supervisor,
          releaseId,
          expectedSha256: vendorSha256,
          onProgress,
        }),
      );
      rebuildTimes.push(m.ms);
      rebuildWhat = m.what;
      reproduced &&= m.reproduced;
      say(
        `supervisor rebuild ${i + 1}: ${secs(m.ms)} s, ${m.reproduced ? 'identical bundle, approved' : `DIFFERENT (sha256:${m.sha256})`}`,
      );
    }
  } finally {
    await server.close();
    line.close();
  }

  // 6. The table.
  const vendorMs = median(vendorTimes);
  const rebuildMs = median(rebuildTimes);
  const fullMs = vendorMs + rebuildMs;
  const verdict = (ms: number): string => (ms <= TARGET_RATIO * baselineMs ? 'met' : 'MISSED');
  const rows: Row[] = [
    {
      what:
        debian === undefined
          ? 'yarac + yara (not installed)'
          : 'yarac compile + yara over all files (baseline)',
      ms: yaracTimes === undefined ? undefined : median(yaracTimes),
      target: '',
      verdict: debian === undefined ? '' : 'baseline',
      notes:
        yaracTimes === undefined
          ? 'cannot be measured here'
          : `\`yarac f1.yar … f${repo.ruleFiles.length}.yar out.yarc\` + \`yara -C -r out.yarc samples/\` and \`clean/\` (default threads), ${spread(yaracTimes)}`,
    },
    {
      what:
        debian === undefined
          ? 'yara-x bare compile (baseline, yarac missing)'
          : 'yara-x bare compile',
      ms: median(yaraXTimes),
      target: '',
      verdict: debian === undefined ? 'baseline' : '',
      notes: `${engine.binding} engine.compile in process, ${spread(yaraXTimes)}`,
    },
    {
      what: 'vendor build',
      ms: vendorMs,
      target: `≤ ${TARGET_RATIO}×`,
      verdict: verdict(vendorMs),
      notes: `AssemblyLine.build (checkout, tests, cross-check, tar, signing, records), ${spread(vendorTimes)}`,
    },
    {
      what: 'supervisor rebuild',
      ms: rebuildMs,
      target: `≤ ${TARGET_RATIO}×`,
      verdict: reproduced ? verdict(rebuildMs) : 'NOT REPRODUCED',
      notes: `${rebuildWhat}, ${spread(rebuildTimes)}; bundle ${reproduced ? 'identical' : 'different'}`,
    },
    {
      what: 'full supervised build (vendor + rebuild)',
      ms: fullMs,
      target: '',
      verdict: '',
      notes: 'sum of the two medians above',
    },
  ];
  process.stdout.write('\n');
  printTable(rows, baselineMs);
  process.stdout.write(
    `\nwhere the vendor build's time goes (last run, time since its start):\n` +
      `${vendorLines.map((l) => `  ${l}`).join('\n')}\n`,
  );
  process.stdout.write(
    `\n(total ${secs(performance.now() - started)} s; load average after: ${load()})\n`,
  );
}

async function cleanup(): Promise<void> {
  if (tempDir === undefined) return;
  const dir = tempDir;
  tempDir = undefined;
  await rm(dir, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: removing the temp directory`);
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

try {
  await main();
} catch (err) {
  say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
