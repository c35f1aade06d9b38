/**
 * `npm start` end to end: the built CLI brings every role up in a temporary
 * data directory and publishes the demo release; the test then checks that
 * release from outside, as an endpoint would: with the real tuf-js client
 * pinned to root v1, and with the release-log receipt verified against the
 * witness policy. A second start on the same directory publishes nothing.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeReleaseLogEntry, parseReleaseLogEntry } from '@glasshouse/distribution';
import {
  decodeBundle,
  parsePolicy,
  parseTlogProof,
  tilePath,
  tileWidthAt,
  verifyTlogProof,
} from '@glasshouse/tlog';
import { ensureCliBuilt, runBuiltCli, spawnBuiltCliUntil, type SpawnedCli } from './built-cli.js';

/** What `start` prints on its last line, `ready <json>`. */
interface Ready {
  logUrl: string;
  witnessUrl: string;
  assemblyUrl: string;
  repoUrl: string;
  releaseId: string | null;
  targets: string[];
  policyPath: string;
}

interface Started extends SpawnedCli<Ready> {
  readonly ready: Ready;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Runs `glasshouse start` on `data` with every port chosen by the system; resolves on its `ready` line. */
async function start(
  data: string,
  timeoutMs = 120_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Started> {
  const args = ['start', '--data', data];
  for (const flag of ['--listen', '--witness-listen', '--assembly-listen', '--repo-listen']) {
    args.push(flag, '127.0.0.1:0');
  }
  const started = await spawnBuiltCliUntil(
    args,
    (out) => {
      const line = /^ready (\{.*\})$/m.exec(out)?.[1];
      return line === undefined ? undefined : (JSON.parse(line) as Ready);
    },
    { timeoutMs, env },
  );
  return { ...started, ready: started.value };
}

async function stop(
  started: Started,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  started.child.kill('SIGTERM');
  return started.exited;
}

describe('glasshouse start (npm start)', () => {
  let work: string;
  let data: string;
  const running: Started[] = [];

  beforeAll(async () => {
    ensureCliBuilt();
    work = await mkdtemp(join(tmpdir(), 'glasshouse-start-'));
    data = join(work, 'data');
  }, 180_000);

  afterAll(async () => {
    for (const s of running) {
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    }
    await rm(work, { recursive: true, force: true });
  });

  it('publishes the demo release, which checks out from outside; a second start publishes nothing', async () => {
    const first = await start(data);
    running.push(first);
    const { ready } = first;
    expect(ready.releaseId).toMatch(/^[0-9a-z]{26}$/);
    for (const step of [
      'building demo-rules',
      'reviews release',
      'approved release',
      'release log: entry 0',
    ]) {
      expect(first.stderr()).toContain(step);
    }
    expect(first.stdout()).toContain('Try it:');

    // (1) The real tuf-js client, pinned to root v1, downloads the artifact.
    const metadataDir = await mkdtemp(join(work, 'tuf-metadata-'));
    const targetDir = await mkdtemp(join(work, 'tuf-targets-'));
    const rootRes = await fetch(`${ready.repoUrl}/metadata/1.root.json`);
    expect(rootRes.status).toBe(200);
    await writeFile(join(metadataDir, 'root.json'), Buffer.from(await rootRes.arrayBuffer()));
    const updater = new Updater({
      metadataDir,
      metadataBaseUrl: `${ready.repoUrl}/metadata`,
      targetDir,
      targetBaseUrl: `${ready.repoUrl}/targets`,
      config: { fetchRetry: false },
    });
    await updater.refresh();
    const infos = new Map<string, { sha256: string; custom: Record<string, unknown> }>();
    for (const name of ready.targets) {
      const info = await updater.getTargetInfo(name);
      if (info === undefined) throw new Error(`tuf-js found no target ${name}`);
      const hash = info.hashes.sha256;
      if (hash === undefined) throw new Error(`target ${name} has no sha256`);
      expect(info.custom.releaseId).toBe(ready.releaseId);
      infos.set(name, { sha256: hash, custom: info.custom });
    }
    const download = async (name: string): Promise<Buffer> => {
      const info = await updater.getTargetInfo(name);
      if (info === undefined) throw new Error(`tuf-js found no target ${name}`);
      return readFile(await updater.downloadTarget(info));
    };
    const artifacts = [...infos].filter(([, i]) => i.custom.kind === 'artifact');
    expect(artifacts.map(([name]) => name)).toEqual(['demo-rules/1.0.0/demo-rules-1.0.0.tar']);
    for (const [name, info] of artifacts) {
      expect(sha256(await download(name))).toBe(info.sha256);
    }

    // (2) The release-log receipt, also a target, verifies against the witness
    // policy for the entry rebuilt from the TUF targets alone.
    const receiptName = 'demo-rules/1.0.0/release-log.tlog-proof';
    expect(infos.get(receiptName)?.custom.kind).toBe('release-log-receipt');
    const receipt = await download(receiptName);
    const attestation = (kind: string): { sha256: string } => {
      const found = [...infos.values()].find(
        (i) => i.custom.kind === 'attestation' && i.custom.attestation === kind,
      );
      if (found === undefined) throw new Error(`no ${kind} target`);
      return { sha256: found.sha256 };
    };
    const entry = encodeReleaseLogEntry({
      releaseId: ready.releaseId!,
      name: 'demo-rules',
      version: '1.0.0',
      targets: artifacts.map(([name, info]) => ({ name, sha256: info.sha256 })),
      provenance: attestation('provenance'),
      vsa: attestation('vsa'),
      approval: attestation('approval'),
    });
    expect(parseReleaseLogEntry(entry)).toMatchObject({
      releaseId: ready.releaseId,
      name: 'demo-rules',
      version: '1.0.0',
    });

    // The same bytes are what the release log holds at the receipt's index.
    const { index } = parseTlogProof(receipt);
    const size = BigInt((await (await fetch(`${ready.logUrl}checkpoint`)).text()).split('\n')[1]!);
    const bundleIndex = index / 256n;
    const bundleRes = await fetch(
      `${ready.logUrl}${tilePath({ kind: 'entries', index: bundleIndex, width: tileWidthAt(0, bundleIndex, size) })}`,
    );
    expect(bundleRes.status).toBe(200);
    const logged = decodeBundle(new Uint8Array(await bundleRes.arrayBuffer()))[
      Number(index % 256n)
    ];
    expect(Buffer.from(logged!).equals(Buffer.from(entry))).toBe(true);

    // Verified with the library and with the CLI, against the witness policy.
    const policy = parsePolicy(await readFile(ready.policyPath, 'utf8'));
    const verified = verifyTlogProof(receipt, entry, policy);
    expect(verified.index).toBe(index);
    expect(verified.cosigners).toEqual(['local-witness']);
    const entryFile = join(work, 'release-log-entry');
    const receiptFile = join(work, 'release.tlog-proof');
    await writeFile(entryFile, entry);
    await writeFile(receiptFile, receipt);
    expect(
      runBuiltCli([
        'log',
        'verify',
        '--policy',
        ready.policyPath,
        '--entry',
        entryFile,
        receiptFile,
      ]),
    ).toBe(
      `ok: index ${index} in localhost/glasshouse/log at tree size ${size}, cosigned by local-witness\n`,
    );

    // The supervisor's monitor saw the entry and had nothing to say.
    expect(first.stdout()).toMatch(/verified +size 1, no alerts/);

    // (3) SIGTERM stops everything cleanly.
    expect(await stop(first)).toEqual({ code: 0, signal: null });

    // A second start on the same data comes up with the same release and publishes nothing.
    const second = await start(data);
    running.push(second);
    expect(second.ready.releaseId).toBe(ready.releaseId);
    expect(second.ready.targets).toEqual(ready.targets);
    expect(second.stderr()).not.toMatch(
      /creating|building|reviews|rebuilding|publishing|co-signing/,
    );
    const timestamp = await fetch(`${second.ready.repoUrl}/metadata/timestamp.json`);
    expect(timestamp.status).toBe(200);
    expect(await stop(second)).toEqual({ code: 0, signal: null });
  }, 240_000);

  it('runs every service without git, skipping only the demo release', async () => {
    // A PATH that holds node and nothing else: no git, no bubblewrap, no yara.
    const bin = join(work, 'node-only-bin');
    await mkdir(bin, { recursive: true });
    await symlink(process.execPath, join(bin, 'node'));
    const started = await start(join(work, 'no-git-data'), 60_000, { ...process.env, PATH: bin });
    running.push(started);
    expect(started.ready.releaseId).toBeNull();
    expect(started.stdout()).toContain('demo release        skipped: git is not installed');
    expect((await fetch(`${started.ready.repoUrl}/metadata/1.root.json`)).status).toBe(200);
    expect((await fetch(`${started.ready.logUrl}checkpoint`)).status).toBe(200);
    expect(await stop(started)).toEqual({ code: 0, signal: null });
  }, 90_000);
});
