/**
 * Detection at real scale, end to end: a release of 10,000 generated rules
 * (the benchmark's generator) is built by the vendor's assembly line,
 * rebuilt and approved by the supervisor, then installed by an agent, whose
 * self-test compiles it once and checks all 10,005 samples and clean files.
 * While the vendor builds, the release log and the TUF repository served from
 * this same process keep answering within 100 ms: the build's CPU and I/O
 * run in a process of their own.
 *
 * This is the suite's one slow test (about a minute and a half on an idle
 * two-core machine).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '@glasshouse/attest';
import { generateRulesRepo, type GeneratedRepo } from '../../release/bench/generate-rules.js';
import { startSupervised, type Supervised } from '../../release/test/supervised-fixture.js';
import { activateSlot, activeRulesDir, stageAndSelfTest } from '../src/index.js';
import { startWorld, type World } from './fixtures.js';

const RULES = 10_000;
const LATENCY_MS = 100;
const PROBE_EVERY_MS = 100;

let work: string;
let repo: GeneratedRepo;
let env: Supervised;
let world: World;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'glasshouse-scale-'));
  [repo, env, world] = await Promise.all([
    generateRulesRepo(join(work, 'repo'), { rules: RULES, worktree: false }),
    startSupervised({ requireReview: false, reviewers: [] }),
    startWorld(),
  ]);
}, 120_000);

// Closing waits for the deletion of 10,000-file checkouts, and rm of the tree takes as long again.
afterAll(async () => {
  await Promise.all([env.close(), world.close()]);
  await rm(work, { recursive: true, force: true });
}, 120_000);

/**
 * GETs each URL every PROBE_EVERY_MS until stopped; every answer's time.
 * Slow answers are printed with the time since the test file started.
 */
async function probe(
  urls: readonly string[],
): Promise<{ stop: () => Promise<Map<string, number[]>> }> {
  // The first request of each (fetch loading its client, the server's first route) is not timed.
  for (const url of urls) await (await fetch(url)).arrayBuffer();
  const times = new Map<string, number[]>(urls.map((u) => [u, []]));
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let running = true;
  const loops = urls.map(async (url) => {
    while (running) {
      const t0 = performance.now();
      const res = await fetch(url);
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
      const ms = performance.now() - t0;
      if (ms > LATENCY_MS) process.stderr.write(`${stamp()} slow ${url} ${ms.toFixed(0)} ms\n`);
      times.get(url)?.push(ms);
      await new Promise((resolve) => setTimeout(resolve, PROBE_EVERY_MS));
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      loop.disable();
      process.stderr.write(
        `event loop delay during the build: max ${(loop.max / 1e6).toFixed(0)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(0)} ms\n`,
      );
      return times;
    },
  };
}

const started = performance.now();
const stamp = (): string => ((performance.now() - started) / 1000).toFixed(2);

function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

describe(`a release of ${RULES.toLocaleString('en-US')} rules`, () => {
  it('is built, rebuilt and approved, then installed and self-tested by an agent', async () => {
    const buildStarted = performance.now();
    const probes = await probe([
      `${world.log.url}healthz`,
      `${world.repoUrl}/metadata/1.root.json`,
    ]);
    let release;
    try {
      release = await env.client.build(repo.dir, repo.commit, (line) => {
        process.stderr.write(`${stamp()} ${line.slice(0, 100)}\n`);
      });
    } finally {
      const times = await probes.stop();
      for (const [url, ms] of times) {
        const p95 = percentile(ms, 95);
        const max = Math.max(...ms);
        process.stderr.write(
          `${url}: ${ms.length} answers, p95 ${p95.toFixed(0)} ms, max ${max.toFixed(0)} ms\n`,
        );
        // On a machine shared with other work, scheduling alone delays an
        // answer now and then: 95% within 100 ms and none past a second (a
        // build on the event loop kept them silent for 30 to 45 s).
        expect(p95, `${url}: 95th percentile`).toBeLessThanOrEqual(LATENCY_MS);
        expect(max, `${url}: slowest answer`).toBeLessThanOrEqual(1000);
      }
    }
    const built = performance.now();
    const artifact = release.artifacts[0];
    expect(artifact?.name).toBe('bench-rules-1.0.0.tar');

    const supervisor = await env.openSupervisor();
    const approved = await supervisor.rebuild(env.client, release.id);
    expect(approved.record.status).toBe('approved');
    const rebuilt = performance.now();

    const bundle = await env.client.artifact(release.id, artifact?.name ?? '');
    expect(sha256Hex(bundle)).toBe(artifact?.sha256);
    const agent = await world.newAgent();
    const ref = { name: 'bench-rules', version: '1.0.0', sha256: sha256Hex(bundle) };
    const staged = await stageAndSelfTest(agent.paths, ref, bundle);
    const selfTest = await staged.selfTest;
    await activateSlot(agent.paths, staged.slot);
    expect(selfTest).toMatchObject({ cases: RULES + 5, sameEngineVersion: true });
    expect(await activeRulesDir(agent.dir)).toBe(staged.path);
    const installed = performance.now();
    const s = (a: number, b: number): string => ((b - a) / 1000).toFixed(1);
    process.stderr.write(
      `scale test: build ${s(buildStarted, built)} s, rebuild ${s(built, rebuilt)} s, install ${s(rebuilt, installed)} s\n`,
    );
  }, 300_000);
});
