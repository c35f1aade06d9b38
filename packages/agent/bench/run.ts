/**
 * `npm run bench` in packages/agent: install and scan with a generated
 * 10,000-rule release, beside Debian's `yara` CLI on the same files and the
 * same rules in the same run (the baseline).
 *
 *   npx tsx bench/run.ts              10,000 rules, 200 MB tree
 *   npx tsx bench/run.ts --quick      1,000 rules, 20 MB tree
 *   npx tsx bench/run.ts --rules N --mb M --runs R --threads T
 *
 * Steps: generate the rules repository (packages/release/bench/generate-rules.ts)
 * and build it into a real bundle (`buildRulesBundle`, Debian cross-check
 * off); install it as an update does after its signature checks and time
 * that (read and check every file's digest and stage it, self-test: one
 * compile, started from the verified bundle while the slot is written,
 * and every sample and clean file, switch `rules/active`); load
 * the active rules with `loadActiveRules` (timed); generate the tree
 * (bench/tree.ts), compile the same sources with `yarac` (timed: the
 * counterpart of loadActiveRules), then alternate timed scans, in each
 * round: `scanPaths` on one thread; on T threads (default: one per core)
 * with the workers' copies of the rules loaded before the clock starts
 * (as `yara` loads its compiled rules before it scans, though `yara`'s time
 * includes that load); on T threads with the workers started by the scan
 * (their rule copies inside the time); `yara -C -r` (default threads) and
 * `yara -C -r -p 1`. Every run's detections are checked: both engines
 * must report exactly the planted samples, and the threaded scans exactly
 * the records of the one-thread scan. When one agent scan takes longer
 * than a minute it is timed once. CPU time (user + system, all threads)
 * is recorded for the agent's scans.
 *
 * Progress goes to stderr, the table to stdout. The temp directory is
 * removed on every exit path.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sha256Hex } from '@glasshouse/attest';
import { selectYaraEngine } from '@glasshouse/bundle';
import {
  buildRulesBundle,
  DEFAULT_DEBIAN_YARA,
  detectDebianYara,
  parseRecipe,
  run,
} from '@glasshouse/release';
import { generateRulesRepo } from '../../release/bench/generate-rules.js';
// The scan from the compiled package (built by `npm run bench`), as the CLI runs it: from
// the sources, every worker thread would first load tsx and compile TypeScript.
import {
  canScanInThreads,
  defaultScanThreads,
  loadActiveRules,
  ScanPool,
  scanPaths,
  type ScanRecord,
  type ScanSummary,
} from '@glasshouse/agent';
import { agentPaths } from '../src/config.js';
import { activateSlot, stageAndSelfTest } from '../src/install.js';
import { generateTree, type GeneratedTree, type TreeSample } from './tree.js';

const DEFAULT_RULES = 10_000;
const DEFAULT_MB = 200;
const QUICK_RULES = 1_000;
const QUICK_MB = 20;
const DEFAULT_RUNS = 3;
const TARGET_SHARE = 1;
/** Seconds: stage, self-test and switch of a 10,000-rule release. */
const INSTALL_TARGET_S = 15;
/** An agent scan slower than this is not repeated (keeps the full run within minutes). */
const REPEAT_UNDER_MS = 60_000;

const say = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};
const secs = (ms: number): string => (ms / 1000).toFixed(ms < 10_000 ? 3 : 2);
const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
const rate = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);

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
  megabytes: number;
  runs: number;
  threads: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rules: { type: 'string' },
      mb: { type: 'string' },
      runs: { type: 'string' },
      threads: { type: 'string' },
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
  return {
    rules: count(values.rules, 'rules', 1_000_000) ?? (values.quick ? QUICK_RULES : DEFAULT_RULES),
    megabytes: count(values.mb, 'mb', 100_000) ?? (values.quick ? QUICK_MB : DEFAULT_MB),
    runs: count(values.runs, 'runs', 10) ?? DEFAULT_RUNS,
    threads: count(values.threads, 'threads', 64) ?? Math.max(2, defaultScanThreads()),
  };
}

interface Row {
  what: string;
  seconds: string;
  mbps: string;
  share: string;
  target: string;
  verdict: string;
  notes: string;
}

function printTable(rows: readonly Row[]): void {
  const head = ['what', 'seconds', 'MB/s', '× yara', 'target', 'verdict', 'notes'];
  const body = rows.map((r) => [r.what, r.seconds, r.mbps, r.share, r.target, r.verdict, r.notes]);
  const width = head.map((h, c) => Math.max(h.length, ...body.map((r) => r[c]!.length)));
  const right = new Set([1, 2, 3]);
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((x, c) => (right.has(c) ? x.padStart(width[c]!) : x.padEnd(width[c]!))).join(' | ')} |`;
  const rule = `|${width.map((w, c) => `${'-'.repeat(w + 1)}${right.has(c) ? ':' : '-'}`).join('|')}|`;
  process.stdout.write(`${[line(head), rule, ...body.map(line)].join('\n')}\n`);
}

/** Path → sorted rule names, from `yara` output lines (`RULE PATH`). */
function parseYaraOutput(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const space = line.indexOf(' ');
    if (space <= 0) throw new Error(`unexpected yara output: ${line}`);
    const path = line.slice(space + 1);
    out.set(path, [...(out.get(path) ?? []), line.slice(0, space)].sort());
  }
  return out;
}

/** Throws unless `got` is exactly the planted samples, each with its own rule. */
function checkDetections(engine: string, got: ReadonlyMap<string, string[]>, tree: GeneratedTree) {
  const problems: string[] = [];
  for (const [path, rule] of tree.expected) {
    const rules = got.get(path) ?? [];
    if (rules.length !== 1 || rules[0] !== rule)
      problems.push(`${path}: want [${rule}], got [${rules.join(', ')}]`);
  }
  for (const [path, rules] of got) {
    if (!tree.expected.has(path)) problems.push(`${path}: unexpected [${rules.join(', ')}]`);
  }
  if (problems.length > 0) {
    throw new Error(
      `${engine} detections differ from the planted samples:\n  ${problems.slice(0, 10).join('\n  ')}`,
    );
  }
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
    `@glasshouse/agent scan benchmark — ${new Date().toISOString()}`,
    `rules: ${int(options.rules)} generated rules (packages/release/bench/generate-rules.ts); tree: ${options.megabytes} MB generated (bench/tree.ts)`,
    `machine: ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `${process.platform} ${release()}; node ${process.version}; load average before the run: ${load()}`,
    `engines: yara-x ${engine.version} (${engine.binding}, ${engine.package}, in process, 1 and ${options.threads} threads); ` +
      (debian === undefined
        ? 'Debian yara/yarac: not installed'
        : `Debian yara/yarac ${debian} (${DEFAULT_DEBIAN_YARA.yarac}, ${DEFAULT_DEBIAN_YARA.yara})`),
  ];
  process.stdout.write(`${header.join('\n')}\n`);

  const dir = await mkdtemp(join(tmpdir(), 'glasshouse-agent-bench-'));
  tempDir = dir;

  // 1. Rules: the generated repository built into a real bundle, then installed as an
  //    update installs it: read and check every digest, stage, self-test, switch.
  say(`generating ${int(options.rules)} rules in ${dir}/repo`);
  let t0 = performance.now();
  const repo = await generateRulesRepo(join(dir, 'repo'), { rules: options.rules });
  say(`generated in ${secs(performance.now() - t0)} s; building the bundle`);
  t0 = performance.now();
  const recipe = parseRecipe(await readFile(join(repo.dir, 'glasshouse-recipe.json')));
  if (recipe.kind !== 'rules') throw new Error('the generated recipe is a rules recipe');
  const built = await buildRulesBundle({
    sourceDir: repo.dir,
    recipe,
    sourceDateEpoch: 1_704_164_645,
    debianYara: 'off',
  });
  say(`bundle built in ${secs(performance.now() - t0)} s (${mb(built.bundle.length)} MB)`);
  const agentDir = join(dir, 'agent');
  const paths = agentPaths(agentDir);
  t0 = performance.now();
  const ref = {
    name: built.manifest.name,
    version: built.manifest.version,
    sha256: sha256Hex(built.bundle),
  };
  const staged = await stageAndSelfTest(paths, ref, built.bundle, engine);
  const stagedMs = performance.now() - t0;
  const selfTest = await staged.selfTest;
  const selfTestMs = performance.now() - t0 - stagedMs;
  await activateSlot(paths, staged.slot);
  const installMs = performance.now() - t0;
  say(
    `install: ${secs(installMs)} s (stage ${secs(stagedMs)} s, self-test of ${int(selfTest.cases)} cases ${secs(selfTestMs)} s)`,
  );
  t0 = performance.now();
  const active = await loadActiveRules(agentDir);
  const loadMs = performance.now() - t0;
  say(`loadActiveRules: ${secs(loadMs)} s (digests checked, ${int(options.rules)} rules compiled)`);

  try {
    // 2. The tree, with samples planted in every 50th file.
    const samples: TreeSample[] = [];
    for (const rule of (await readdir(join(repo.dir, 'samples'))).sort()) {
      samples.push({ rule, data: await readFile(join(repo.dir, 'samples', rule, 'sample.bin')) });
    }
    t0 = performance.now();
    const tree = await generateTree(join(dir, 'tree'), {
      bytes: options.megabytes * 1e6,
      samples,
    });
    say(
      `tree: ${int(tree.files)} files, ${mb(tree.bytes)} MB, ${tree.expected.size} planted samples, ` +
        `written in ${secs(performance.now() - t0)} s`,
    );

    // 3. yarac: the same rule sources (the installed slot's files), one compiled output.
    const compiled = join(dir, 'rules.yarc');
    let yaracMs: number | undefined;
    if (debian !== undefined) {
      const sources = active.manifest.rules.map((p) => join(active.slotDir, ...p.split('/')));
      t0 = performance.now();
      const r = await run(DEFAULT_DEBIAN_YARA.yarac, [...sources, compiled]);
      if (r.code !== 0) throw new Error(`yarac exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
      yaracMs = performance.now() - t0;
      say(`yarac: ${secs(yaracMs)} s`);
    }

    // 4. Alternating timed scans.
    const threaded = canScanInThreads(active.engine, active.rules);
    const poolOptions = { rules: active.rules, engine: active.engine, limits: active.limits };
    const agentTimes: number[] = [];
    const warmTimes: number[] = [];
    const coldTimes: number[] = [];
    const poolReadyTimes: number[] = [];
    const cpuOf: Record<'one' | 'warm' | 'cold', number[]> = { one: [], warm: [], cold: [] };
    const yaraTimes: number[] = [];
    const yaraOneTimes: number[] = [];
    let last: ScanSummary | undefined;
    let reference: string | undefined;
    let agentRuns = options.runs;
    const cpuMs = (): number => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    async function agentScan(
      label: string,
      i: number,
      times: number[],
      cpu: number[],
      pool: ScanPool | undefined,
    ): Promise<void> {
      const got = new Map<string, string[]>();
      const records: ScanRecord[] = [];
      const c0 = cpuMs();
      t0 = performance.now();
      last = await scanPaths(active.rules, [tree.dir], pool === undefined ? {} : { pool }, (r) => {
        records.push(r);
        if (r.type === 'match') got.set(r.path, [...r.rules]);
        else if (r.type === 'skipped') throw new Error(`skipped ${r.path}: ${r.detail}`);
      });
      times.push(performance.now() - t0);
      cpu.push(cpuMs() - c0);
      checkDetections(label, got, tree);
      const key = JSON.stringify(records);
      reference ??= key;
      if (key !== reference) throw new Error(`${label}: records differ from the first scan's`);
      say(
        `${label} ${i}/${options.runs}: ${secs(times.at(-1)!)} s (CPU ${secs(cpu.at(-1)!)} s), ` +
          `${rate(last.bytes, times.at(-1)!).toFixed(1)} MB/s, ${last.matches} matches`,
      );
    }
    for (let i = 1; i <= options.runs; i++) {
      if (i > agentRuns) {
        await yaraRuns(i);
        continue;
      }
      await agentScan('agent scan, 1 thread', i, agentTimes, cpuOf.one, undefined);
      if (i === 1 && agentTimes[0]! > REPEAT_UNDER_MS) {
        agentRuns = 1;
        say(`one agent scan took over ${REPEAT_UNDER_MS / 1000} s: timing it once`);
      }
      if (threaded) {
        const warm = ScanPool.forThreads(options.threads, poolOptions);
        try {
          t0 = performance.now();
          await warm?.whenSettled();
          poolReadyTimes.push(performance.now() - t0);
          if (warm?.loadFailure !== undefined)
            throw new Error(`a worker failed: ${warm.loadFailure}`);
          await agentScan(
            `agent scan, ${options.threads} threads (rules loaded)`,
            i,
            warmTimes,
            cpuOf.warm,
            warm,
          );
        } finally {
          await warm?.close();
        }
        const cold = ScanPool.forThreads(options.threads, poolOptions);
        try {
          await agentScan(
            `agent scan, ${options.threads} threads (workers started by the scan)`,
            i,
            coldTimes,
            cpuOf.cold,
            cold,
          );
        } finally {
          await cold?.close();
        }
      }
      await yaraRuns(i);
    }
    async function yaraRuns(i: number): Promise<void> {
      if (debian === undefined) return;
      for (const [label, extra, times] of [
        ['yara -r', [], yaraTimes],
        ['yara -r -p 1', ['-p', '1'], yaraOneTimes],
      ] as const) {
        t0 = performance.now();
        const r = await run(DEFAULT_DEBIAN_YARA.yara, ['-C', '-r', ...extra, compiled, tree.dir]);
        times.push(performance.now() - t0);
        if (r.code !== 0) throw new Error(`yara exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
        checkDetections(label, parseYaraOutput(r.stdout), tree);
        say(
          `${label} ${i}/${options.runs}: ${secs(times.at(-1)!)} s, ` +
            `${rate(tree.bytes, times.at(-1)!).toFixed(1)} MB/s`,
        );
      }
    }
    if (last === undefined) throw new Error('no scan ran');
    if (last.bytes !== tree.bytes || last.files !== tree.files) {
      throw new Error(`the agent scanned ${last.files} files / ${last.bytes} bytes of the tree`);
    }

    // 5. The table.
    const yaraRate = yaraTimes.length > 0 ? rate(tree.bytes, median(yaraTimes)) : undefined;
    const yaraOneRate =
      yaraOneTimes.length > 0 ? rate(tree.bytes, median(yaraOneTimes)) : undefined;
    const share = (x: number): string =>
      yaraRate === undefined ? '—' : `${(x / yaraRate).toFixed(2)}×`;
    const what = `${int(tree.files)} files, ${mb(tree.bytes)} MB, ${int(options.rules)} rules`;
    const cpuNote = (xs: readonly number[]): string =>
      `CPU (all threads) median ${secs(median(xs))} s`;
    const agentRow = (
      label: string,
      times: readonly number[],
      cpu: readonly number[],
      verdict: boolean,
      notes: string,
    ): Row => {
      const ms = median(times);
      const mbps = rate(tree.bytes, ms);
      const met = yaraRate !== undefined && mbps >= TARGET_SHARE * yaraRate;
      return {
        what: label,
        seconds: secs(ms),
        mbps: mbps.toFixed(1),
        share: share(mbps),
        target: verdict ? `≥ ${TARGET_SHARE.toFixed(2)}× yara` : '',
        verdict: verdict ? (yaraRate === undefined ? 'no baseline' : met ? 'met' : 'MISSED') : '',
        notes: `${notes}, ${spread(times)}; ${cpuNote(cpu)}`,
      };
    };
    const rows: Row[] = [
      {
        what:
          debian === undefined
            ? 'yara CLI (not installed)'
            : 'yara CLI, default threads (baseline)',
        seconds: yaraTimes.length > 0 ? secs(median(yaraTimes)) : 'n/a',
        mbps: yaraRate?.toFixed(1) ?? 'n/a',
        share: yaraRate === undefined ? '—' : '1.00×',
        target: '',
        verdict: yaraRate === undefined ? '' : 'baseline',
        notes:
          yaraTimes.length > 0
            ? `\`yara -C -r rules.yarc DIR\` (process start and loading the yarac-compiled rules included, compiling them not), ${spread(yaraTimes)}`
            : 'cannot be measured here',
      },
      {
        what: 'yara CLI, one thread',
        seconds: yaraOneTimes.length > 0 ? secs(median(yaraOneTimes)) : 'n/a',
        mbps: yaraOneRate?.toFixed(1) ?? 'n/a',
        share: yaraOneRate === undefined ? '—' : share(yaraOneRate),
        target: '',
        verdict: '',
        notes: yaraOneTimes.length > 0 ? `\`yara -C -r -p 1 …\`, ${spread(yaraOneTimes)}` : '',
      },
      agentRow(
        `agent scan, 1 thread (yara-x ${engine.binding})`,
        agentTimes,
        cpuOf.one,
        !threaded,
        `scanPaths over ${what}, the compiled set loaded before the clock starts`,
      ),
    ];
    if (threaded) {
      rows.push(
        agentRow(
          `agent scan, ${options.threads} threads, rules loaded`,
          warmTimes,
          cpuOf.warm,
          true,
          `scanPaths with a ScanPool of ${options.threads - 1} workers whose copies of the set were loaded before the clock starts (median ${secs(median(poolReadyTimes))} s, not in this time)`,
        ),
        agentRow(
          `agent scan, ${options.threads} threads, workers started by the scan`,
          coldTimes,
          cpuOf.cold,
          false,
          `the same with the pool made as the scan starts: copying the set into the workers is inside this time; the calling thread scans meanwhile`,
        ),
      );
    }
    rows.push(
      {
        what: 'yarac compile (not in the yara rows)',
        seconds: yaracMs === undefined ? 'n/a' : secs(yaracMs),
        mbps: '',
        share: '',
        target: '',
        verdict: '',
        notes: `\`yarac\` of the installed slot's ${active.manifest.rules.length} rule files`,
      },
      {
        what: 'load active rules (not in the agent rows)',
        seconds: secs(loadMs),
        mbps: '',
        share: '',
        target: '',
        verdict: '',
        notes: `loadActiveRules: manifest, ${active.manifest.rules.length} rule files checked against their SHA-256, one yara-x compile`,
      },
      {
        what: `agent install of a ${int(options.rules)}-rule release`,
        seconds: secs(installMs),
        mbps: '',
        share: '',
        target: `≤ ${INSTALL_TARGET_S} s`,
        verdict: installMs <= INSTALL_TARGET_S * 1000 ? 'met' : 'MISSED',
        notes:
          `stageAndSelfTest: stage (every digest; the compile already running) ${secs(stagedMs)} s + the rest of the self-test (one compile, ${int(selfTest.cases)} samples and clean files) ` +
          `${secs(selfTestMs)} s + activateSlot; TUF, log and VSA checks are per release, not per rule: bench/verify.ts`,
      },
      {
        // Placeholder: the update pipeline's own bench measures this row.
        what: 'update verification (excluding download)',
        seconds: 'n/a',
        mbps: '',
        share: '',
        target: '< 50 ms',
        verdict: '',
        notes: 'measured by bench/verify.ts (run first by npm run bench)',
      },
    );
    process.stdout.write(
      `\nall ${options.runs} runs of each engine reported exactly the ${tree.expected.size} planted samples\n\n`,
    );
    printTable(rows);
    process.stdout.write(
      `\n(total ${secs(performance.now() - started)} s; load average after: ${load()})\n`,
    );
  } finally {
    active.free();
  }
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
