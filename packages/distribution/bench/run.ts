/**
 * `npm run bench` in packages/distribution: how long after the supervisor's
 * approval a release can be downloaded through the real tuf-js client, and
 * how many releases a minute the repository publishes, beside one tuf-js
 * refresh of the same repository (the baseline, measured in the same run).
 *
 * Each release is built by a real assembly line and rebuilt and approved by
 * a real supervisor (a small `command` recipe, so builds stay short); the
 * clock starts once the approval is recorded and stops when tuf-js has
 * downloaded and checked the new target:
 *
 *   publish (verify, release-log entry + checkpoint, targets, vendor signature)
 *   → supervisor signs the releases draft (checks its approvals)
 *   → tuf-js refresh + download of the new artifact.
 *
 *   npx tsx bench/run.ts [--releases N]   (default 50)
 */
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import { publicKeyFromPem } from '@glasshouse/attest';
import { buildServer } from '@glasshouse/log';
import {
  RepoClient,
  RepoService,
  buildRepoServer,
  ensurePublishToken,
  ensureSupervisorTufKeys,
  initRepository,
  supervisorDirApprovals,
  supervisorSignRelease,
  supervisorSignRoot,
} from '../src/index.js';
import { FIXED_EPOCH } from '../../release/test/assembly-fixtures.js';
import { startSupervised } from '../../release/test/supervised-fixture.js';
import { listen, makeTestLog } from '../../log/test/monitor/monitor-fixtures.js';

const TARGET_P50_MS = 2000;

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} must be a positive integer`);
  return v;
}

function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)] ?? NaN;
}

const ms = (n: number): string => n.toFixed(0).padStart(7);

async function main(): Promise<void> {
  const releases = argValue('--releases', 50);
  const log = (line: string): void => {
    process.stderr.write(`[bench] ${line}\n`);
  };
  console.log(`@glasshouse/distribution benchmark — ${new Date().toISOString()}`);
  console.log(
    `machine: ${cpus().length} CPUs, node ${process.version}; load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`,
  );

  const env = await startSupervised({ requireReview: false, reviewers: [] });
  const supervisor = await env.openSupervisor();
  const releaseLog = await makeTestLog();
  const logServer = buildServer({ log: releaseLog.log });
  const logUrl = await listen(logServer);
  const repoDir = join(env.work, 'repo');
  const tufKeys = await ensureSupervisorTufKeys(env.supervisorDir);
  await initRepository({
    dir: repoDir,
    supervisorKeys: { root: tufKeys.root.publicKey, release: tufKeys.release.publicKey },
    now: new Date(),
  });
  const service = new RepoService({
    dir: repoDir,
    assemblyUrl: env.url,
    releaseLogUrl: logUrl,
    layoutKeyPem: env.line.layoutKey.publicKeyPem,
  });
  const token = await ensurePublishToken(repoDir);
  const repoServer = buildRepoServer({ service, publishToken: token });
  const repoUrl = await repoServer.listen({ host: '127.0.0.1', port: 0 });
  const repo = new RepoClient(repoUrl);
  await supervisorSignRoot(repo, tufKeys);
  const approvals = supervisorDirApprovals(
    env.supervisorDir,
    publicKeyFromPem(supervisor.identity.publicKeyPem),
  );

  const clientDir = await mkdtemp(join(tmpdir(), 'glasshouse-bench-tuf-'));
  const metadataDir = join(clientDir, 'metadata');
  const targetDir = join(clientDir, 'targets');
  await mkdir(metadataDir, { recursive: true });
  await mkdir(targetDir, { recursive: true });
  await copyFile(join(repoDir, 'metadata', '1.root.json'), join(metadataDir, 'root.json'));
  const updater = (): Updater =>
    new Updater({
      metadataDir,
      metadataBaseUrl: `${repoUrl}/metadata`,
      targetDir,
      targetBaseUrl: `${repoUrl}/targets`,
      config: { fetchRetry: false },
    });

  const latencies: number[] = [];
  const refreshes: number[] = [];
  let publishing = 0;
  for (let i = 0; i < releases; i++) {
    const commit = await env.repo.commit(
      {
        // Each release its own version: a published version is immutable (TARGET_EXISTS).
        'glasshouse-recipe.json': `${JSON.stringify({
          schema: 'glasshouse.recipe/v1',
          kind: 'command',
          name: 'bench-app',
          version: `1.0.${i}`,
          commands: [['sh', '-c', `printf 'release ${i}\\n' > "$OUT_DIR/app.txt"`]],
          outputs: ['app.txt'],
        })}\n`,
      },
      { epoch: FIXED_EPOCH + i },
    );
    const built = await env.client.build(env.repo.dir, commit);
    await supervisor.rebuild(env.client, built.id);

    // The approval is recorded: from here to a verified download.
    const start = performance.now();
    await repo.publish(built.id, token);
    await supervisorSignRelease(repo, tufKeys, approvals);
    const published = performance.now();
    const u = updater();
    const name = `${built.name}/${built.version}/${built.artifacts[0]?.name ?? ''}`;
    const info = await u.getTargetInfo(name);
    if (info === undefined) throw new Error(`tuf-js does not find ${name}`);
    const path = await u.downloadTarget(info);
    const bytes = await readFile(path);
    if (bytes.toString() !== `release ${i}\n`) throw new Error(`wrong bytes for ${name}`);
    const end = performance.now();
    latencies.push(end - start);
    publishing += published - start;

    // Baseline: one refresh of the same repository by a client that is up to date.
    const t = performance.now();
    await updater().refresh();
    refreshes.push(performance.now() - t);
    if ((i + 1) % 10 === 0) log(`${i + 1}/${releases} releases published`);
  }

  latencies.sort((a, b) => a - b);
  refreshes.sort((a, b) => a - b);
  const refreshP50 = percentile(refreshes, 50);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const perMinute = (releases / publishing) * 60_000;
  console.log(`releases: ${releases} (each built, rebuilt and approved before the clock starts)`);
  console.log('');
  console.log(
    '| measurement                                   |  p50 ms |  p99 ms | × refresh | target   | verdict |',
  );
  console.log(
    '|-----------------------------------------------|--------:|--------:|----------:|----------|---------|',
  );
  console.log(
    `| tuf-js refresh, client up to date (baseline)  | ${ms(refreshP50)} | ${ms(percentile(refreshes, 99))} |     1.00× |          |         |`,
  );
  console.log(
    `| approval → downloadable through tuf-js        | ${ms(p50)} | ${ms(p99)} | ${(p50 / refreshP50).toFixed(2).padStart(8)}× | ≤ 2 s    | ${p50 <= TARGET_P50_MS && p99 <= TARGET_P50_MS ? 'met    ' : 'MISSED '} |`,
  );
  console.log('');
  console.log(
    `publish throughput (publish + supervisor signature, no builds): ${perMinute.toFixed(0)} releases/minute`,
  );
  console.log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`,
  );

  await repoServer.close();
  await logServer.close();
  await releaseLog.close();
  await env.close();
  await rm(clientDir, { recursive: true, force: true });
}

await main();
