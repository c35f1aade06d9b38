/**
 * `npm start` end to end: `npm start` brings every role up in a temporary
 * data directory and publishes the demo release; the test then checks that
 * release from outside, as an endpoint would: with the real tuf-js client
 * pinned to root v1, with the release-log receipt verified against the
 * witness policy, and with `agent init --trust`, `agent update` and `agent
 * scan` on the EICAR test file. SIGTERM to npm stops everything; a second
 * start on the same directory publishes nothing and stops on SIGTERM to its
 * process group.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { Updater } from 'tuf-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeReleaseLogEntry, parseReleaseLogEntry } from '@glasshouse/release-format';
import {
  decodeBundle,
  parsePolicy,
  parseTlogProof,
  tilePath,
  tileWidthAt,
  verifyTlogProof,
} from '@glasshouse/tlog';
import {
  encodeTrustBundlePayload,
  trustBundleEnvelope,
  trustBundleFingerprint,
  type TrustBundle,
} from '@glasshouse/release-format';
import {
  generateTufKey,
  loadTufKey,
  repoPaths,
  type TufSigningKey,
} from '@glasshouse/distribution';
import {
  CLI,
  ensureCliBuilt,
  runBuiltCli,
  spawnBuiltCliUntil,
  startListenOnFreePorts,
  type SpawnedCli,
} from './built-cli.js';

/** What `start` prints on its last line, `ready <json>`. */
interface Ready {
  logUrl: string;
  witnessUrl: string;
  assemblyUrl: string;
  repoUrl: string;
  releaseId: string | null;
  targets: string[];
  productReleaseId: string | null;
  productSource: string | null;
  policyPath: string;
  trustBundleUrl: string;
  trustBundleFingerprint: string;
  trustBundlePath: string;
  // The data half.
  residencyLogUrl: string;
  routerUrl: string;
  sites: Record<string, string>;
  residencyPolicy: { version: number; digest: string };
  residencyTrustPath: string;
  demoEndpoints: {
    region: string;
    dir: string;
    sites: string[];
    batches: number;
    verified: number;
  }[];
  residencyAlerts: number;
  // The access half.
  accessLogUrl: string;
  accessIndexUrl: string;
  accessIndexLogUrl: string;
  gatewayUrl: string;
  keyReleaseUrl: string;
  accessTrustPath: string;
  accessDemo: {
    customer: string;
    accesses: { justification: { code: string }; index: number; breakGlass: boolean }[];
    refused: { code: string };
  };
  accessMineCommand: string;
  // The Transparency Center.
  portalUrl: string;
  portalPinnedUrl: string;
}

interface Started extends SpawnedCli<Ready> {
  readonly ready: Ready;
}

const execFileAsync = promisify(execFile);

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Runs `glasshouse start` on `data` with every port chosen by the system; resolves on its `ready` line. */
async function start(
  data: string,
  { timeoutMs = 120_000, env = process.env, npm = true } = {},
): Promise<Started> {
  const args = ['start', '--data', data, ...startListenOnFreePorts()];
  const started = await spawnBuiltCliUntil(
    args,
    (out) => {
      const line = /^ready (\{.*\})$/m.exec(out)?.[1];
      return line === undefined ? undefined : (JSON.parse(line) as Ready);
    },
    { timeoutMs, env, npmStart: npm },
  );
  return { ...started, ready: started.value };
}

/** The sites answer for the demo list's known-good installer from the verdict list alone. */
async function expectListedGood(ready: Ready): Promise<void> {
  const installer = sha256(Buffer.from('glasshouse demo installer'));
  for (const url of Object.values(ready.sites)) {
    const answer = (await (await fetch(`${url}reputation/${installer}`)).json()) as {
      verdict: string;
      source: string[];
    };
    expect(answer).toMatchObject({ verdict: 'known-good', source: ['verdict-list'] });
  }
}

async function stop(
  started: Started,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  started.child.kill('SIGTERM');
  return started.exited;
}

/** Whether any process is left in the process group `pgid`. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** Whether something accepts connections on the URL's port. */
function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

/**
 * Signals `npm start` (its npm process, or its whole process group) and
 * checks the way out: within 10 s no process of the group is left and none
 * of the ports accepts a connection. Idle, the whole stack (release and
 * data half, three logs, two sites) stops in about 1.5 s; the margin is for
 * CI, where this runs beside every other test file.
 */
async function stopNpmStart(started: Started, target: 'npm' | 'group'): Promise<void> {
  const pgid = started.child.pid!;
  process.kill(target === 'npm' ? pgid : -pgid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(groupAlive(pgid)).toBe(false);
  const r = started.ready;
  for (const url of [
    r.logUrl,
    r.witnessUrl,
    r.assemblyUrl,
    r.repoUrl,
    r.residencyLogUrl,
    r.routerUrl,
    ...Object.values(r.sites),
    r.accessLogUrl,
    r.accessIndexUrl,
    r.accessIndexLogUrl,
    r.gatewayUrl,
    r.keyReleaseUrl,
  ]) {
    expect(await listening(url)).toBe(false);
  }
  expect(started.stderr()).toContain('start: shutting down');
  expect(started.stderr()).not.toContain('quitting at once');
}

/** The 68-byte EICAR test file (eicar.org), put together here so no file of the repository holds it. */
function eicarTestFile(): string {
  const file = [
    'X5O!P%@AP[4\\PZX54(P^)7CC)7}$',
    'EICAR-STANDARD-',
    'ANTIVIRUS-TEST-FILE!$H+H*',
  ].join('');
  // Its published SHA-256: the sample is the real one.
  expect(createHash('sha256').update(file).digest('hex')).toBe(
    '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f',
  );
  return file;
}

/** Runs the built CLI; exit code and output, whatever the exit code. */
function cli(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', stdio: 'pipe' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
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
      if (s.child.pid !== undefined && groupAlive(s.child.pid))
        process.kill(-s.child.pid, 'SIGKILL');
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
    // "Try it" names the directories under --data, wherever it points.
    expect(first.stdout()).toContain(`customer init --dir ${join(data, 'my-customer')}`);
    expect(first.stdout()).toContain(`agent telemetry --dir ${join(data, 'endpoint')}`);
    expect(first.stdout()).not.toContain('./data/');
    // The portal's pinned address is the trust bundle file's sha256 (what sha256sum prints), the
    // one the portal's own config names, and the summary shows it.
    const bundleSha256 = sha256(await readFile(ready.trustBundlePath));
    expect(ready.portalPinnedUrl).toBe(`${ready.portalUrl}?pin=${bundleSha256}`);
    expect(first.stdout()).toContain(`pinned            ${ready.portalPinnedUrl}`);
    const portalConfig = (await (
      await fetch(new URL('portal-config.json', ready.portalUrl))
    ).json()) as { trustBundleFingerprint: string };
    expect(portalConfig.trustBundleFingerprint).toBe(bundleSha256);

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
      // The receipt's checkpoint is the one the rules release was published at.
      `ok: index ${index} in localhost/glasshouse/log at tree size ${verified.checkpoint.size}, cosigned by local-witness\n`,
    );

    // The supervisor's monitor saw every entry (rules, the agent's product
    // release, the vendor's verdict list) and had nothing to say.
    expect(size).toBe(3n);
    expect(first.stdout()).toMatch(/verified +size 3, no alerts/);

    // (3) An endpoint: the trust bundle, then the supervised rules, then a scan.
    await protectAnEndpoint(work, ready);

    // (4) The data half: every region's demo agent reached its designated
    // site and no other, and kept a receipt it verified.
    expect(Object.keys(ready.sites)).toEqual(['ch-zrh', 'us-iad']);
    expect(ready.residencyPolicy.version).toBe(1);
    expect(ready.residencyAlerts).toBe(0);
    expect(
      ready.demoEndpoints.map((e) => [e.region, e.sites.join(), e.batches, e.verified]),
    ).toEqual(
      ['EU', 'NA', 'AU', 'KR', 'JP', 'SG', 'LATAM', 'MEA'].map((region) => [
        region,
        ['LATAM', 'MEA'].includes(region) ? 'us-iad' : 'ch-zrh',
        1,
        1,
      ]),
    );
    const telemetry = cli(['agent', 'telemetry', '--dir', join(data, 'endpoint-eu')]);
    expect(telemetry.stdout).toMatch(/stored at ch-zrh .*receipt verified/);
    const status = cli(['residency', 'status', '--trust', ready.residencyTrustPath]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('site ch-zrh CH');
    expect(status.stdout).toContain('verified    ok, violations 0');
    expect(status.stdout).not.toMatch(/violations [1-9]/);
    const reputation = (await (
      await fetch(`${ready.sites['ch-zrh']}reputation/${sha256(Buffer.from(eicarTestFile()))}`)
    ).json()) as { verdict: string };
    expect(reputation.verdict).toBe('known-bad');
    // The vendor's verdict list: a supervised release each site checked before serving it.
    await expectListedGood(ready);
    expect(first.stderr()).toMatch(
      /site ch-zrh: verdicts: 2 verdicts of demo-verdicts 1\.0\.0 imported \(TUF both signatures/,
    );

    // (5) The access half: the demo's four accesses, and the customer's check as printed.
    await checkAccessHalf(first, data);

    // (6) SIGTERM to npm stops everything cleanly.
    await stopNpmStart(first, 'npm');

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
    // New ports, new URLs in the bundle: co-signed again, so a new fingerprint.
    expect(second.ready.trustBundleFingerprint).not.toBe(ready.trustBundleFingerprint);
    // The demo agents send nothing again; the sites moved, so the policy has a next version.
    expect(second.ready.demoEndpoints.map((e) => e.batches)).toEqual(Array(8).fill(1));
    expect(second.ready.residencyPolicy.version).toBe(2);
    expect(second.stderr()).not.toContain('enrolled c-');
    // The access demo is not run again; what it did is still listed, complete.
    expect(second.stderr()).not.toContain('access demo:');
    expect(second.ready.accessDemo).toEqual(ready.accessDemo);
    await checkAccessHalf(second, data);
    await expectListedGood(second.ready);
    // SIGTERM to the process group (what service managers and containers send).
    await stopNpmStart(second, 'group');
  }, 240_000);

  it('runs every service without git, skipping only the demo release', async () => {
    // A PATH that holds node and nothing else: no git, no bubblewrap, no yara.
    const bin = join(work, 'node-only-bin');
    await mkdir(bin, { recursive: true });
    await symlink(process.execPath, join(bin, 'node'));
    const started = await start(join(work, 'no-git-data'), {
      timeoutMs: 60_000,
      env: { ...process.env, PATH: bin },
      npm: false,
    });
    running.push(started);
    expect(started.ready.releaseId).toBeNull();
    expect(started.stdout()).toContain('demo release        skipped: git is not installed');
    expect((await fetch(`${started.ready.repoUrl}/metadata/1.root.json`)).status).toBe(200);
    expect((await fetch(`${started.ready.logUrl}checkpoint`)).status).toBe(200);
    expect(await stop(started)).toEqual({ code: 0, signal: null });
  }, 90_000);
});

/**
 * The access half of a running start: the demo did a support access with
 * approvals, a threat investigation, a refusal and a break-glass access;
 * the printed `access mine` command (run as printed) says these are all
 * the customer's accesses; the break-glass access alerted the supervisor
 * and the customer.
 */
async function checkAccessHalf(started: Started, data: string): Promise<void> {
  const { ready } = started;
  expect(ready.accessDemo.accesses.map((a) => a.justification.code)).toEqual([
    'CUSTOMER_INITIATED_SUPPORT',
    'THREAT_INVESTIGATION',
    'BREAK_GLASS',
  ]);
  expect(ready.accessDemo.accesses.map((a) => a.index)).toEqual([0, 1, 2]);
  expect(ready.accessDemo.refused.code).toBe('APPROVAL_MISSING');
  expect(started.stdout()).toContain(
    'refused     personal-fields without approval: APPROVAL_MISSING',
  );
  // The command the summary prints is the one in the ready line.
  const printed = /npx (glasshouse access mine .*)$/m.exec(started.stdout())?.[1];
  expect(printed).toBe(ready.accessMineCommand);
  const mine = cli(ready.accessMineCommand.split(' ').slice(1));
  expect(mine.code, mine.stderr).toBe(0);
  expect(mine.stdout).toContain('these are all 3 accesses to your data up to access-log size 3');
  expect(mine.stdout).toContain(`customer      ${ready.accessDemo.customer}`);
  expect(mine.stdout).toMatch(/#3 entry 2 .* BREAK_GLASS/);
  // Alerted to the supervisor and to the customer, with the record as evidence.
  for (const file of [
    join(data, 'supervisor', 'access-monitor', 'alerts.jsonl'),
    join(data, 'customers', 'acme-eu', 'access-alerts.jsonl'),
  ]) {
    const kinds = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { kind: string }).kind);
    expect(kinds).toContain('break-glass');
    expect(kinds).not.toContain('access-not-allowed');
  }
  const list = cli(['access', 'list', '--gateway', ready.gatewayUrl, '--break-glass']);
  expect(list.stdout).toContain('reviewed approve');
}

/** `agent init --trust <url> --fingerprint <printed>`, `agent update`, `agent scan`, and the refusals of bad bundles. */
async function protectAnEndpoint(work: string, ready: Ready): Promise<void> {
  const bundle = await readFile(ready.trustBundlePath);
  expect(trustBundleFingerprint(bundle)).toBe(ready.trustBundleFingerprint);
  const served = Buffer.from(await (await fetch(ready.trustBundleUrl)).arrayBuffer());
  expect(served.equals(bundle)).toBe(true);

  // Refused with a code, nothing written to DIR.
  const refused = async (variant: Uint8Array | string, extra: string[] = []): Promise<string> => {
    const file = join(work, 'variant.json');
    await writeFile(file, variant);
    const dir = join(work, 'refused-endpoint');
    const r = cli(['agent', 'init', '--dir', dir, '--trust', file, ...extra]);
    expect(r.code).not.toBe(0);
    expect(existsSync(dir)).toBe(false);
    return /^([A-Z_]+):/m.exec(r.stderr)?.[1] ?? r.stderr;
  };
  const fp = ['--fingerprint', ready.trustBundleFingerprint];
  expect(await refused(bundle, ['--fingerprint', '0'.repeat(64)])).toBe(
    'AGENT_TRUST_BUNDLE_FINGERPRINT_MISMATCH',
  );
  // Not on a terminal and no fingerprint: no trust on first use.
  expect(await refused(bundle)).toBe('AGENT_TRUST_BUNDLE_UNCONFIRMED');
  const envelope = JSON.parse(bundle.toString('utf8')) as {
    payload: string;
    signatures: { keyid: string; sig: string }[];
  };
  expect(envelope.signatures).toHaveLength(2);
  for (const kept of envelope.signatures) {
    const one = `${JSON.stringify({ ...envelope, signatures: [kept] })}\n`;
    expect(await refused(one, ['--fingerprint', trustBundleFingerprint(Buffer.from(one))])).toBe(
      'AGENT_TRUST_BUNDLE_SIGNATURE_MISSING',
    );
  }
  // Re-signed with the real root keys, but naming a supervisor root key the TUF root does not list.
  const payload = JSON.parse(
    Buffer.from(envelope.payload, 'base64').toString('utf8'),
  ) as TrustBundle;
  const data = join(ready.policyPath, '..');
  const rootKeyids = (payload.tufRoot.signed.roles as { root: { keyids: string[] } }).root.keyids;
  const supervisorRoot = await loadTufKey(join(data, 'supervisor', 'tuf-root.pem'));
  const vendorKeyid = rootKeyids.find((k) => k !== supervisorRoot.keyid)!;
  const vendorRoot = await loadTufKey(
    repoPaths(join(data, 'vendor', 'repo')).vendorRootKey(vendorKeyid),
  );
  const stranger = generateTufKey();
  const signed = (p: TrustBundle, keys: TufSigningKey[]): string =>
    trustBundleEnvelope(encodeTrustBundlePayload(p), keys);
  const otherSupervisor = signed(
    {
      ...payload,
      supervisor: {
        ...payload.supervisor,
        tufKeys: { ...payload.supervisor.tufKeys, root: stranger.publicKey },
      },
    },
    [vendorRoot, supervisorRoot],
  );
  expect(
    await refused(otherSupervisor, [
      '--fingerprint',
      trustBundleFingerprint(Buffer.from(otherSupervisor)),
    ]),
  ).toBe('AGENT_TRUST_BUNDLE_KEY_MISMATCH');
  // Signed by a key that is not a root key of the TUF root it carries.
  const byStranger = signed(payload, [stranger, supervisorRoot]);
  expect(
    await refused(byStranger, ['--fingerprint', trustBundleFingerprint(Buffer.from(byStranger))]),
  ).toBe('AGENT_TRUST_BUNDLE_KEY_MISMATCH');
  // Malformed and oversize.
  expect(
    await refused('{"payload":', [
      '--fingerprint',
      trustBundleFingerprint(Buffer.from('{"payload":')),
    ]),
  ).toBe('AGENT_TRUST_BUNDLE_MALFORMED');
  const huge = Buffer.alloc(1024 * 1024 + 1, 0x20);
  expect(await refused(huge, ['--fingerprint', trustBundleFingerprint(huge)])).toBe(
    'AGENT_TRUST_BUNDLE_MALFORMED',
  );
  // Over the limit from a URL too: refused while reading, never read to the end.
  const server = createServer((_req, res) => {
    res.end(huge);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  // Asynchronously: this process serves the bundle meanwhile.
  const fromUrl = await execFileAsync(process.execPath, [
    CLI,
    'agent',
    'init',
    '--dir',
    join(work, 'refused-endpoint'),
    '--trust',
    `http://127.0.0.1:${port}/trust-bundle.json`,
    '--fingerprint',
    trustBundleFingerprint(huge),
  ]).then(
    () => ({ stderr: '' }),
    (err: unknown) => ({ stderr: (err as { stderr: string }).stderr }),
  );
  server.close();
  expect(/^([A-Z_]+):/m.exec(fromUrl.stderr)?.[1]).toBe('AGENT_TRUST_BUNDLE_MALFORMED');
  expect(existsSync(join(work, 'refused-endpoint'))).toBe(false);

  // The commands of "Try it", as printed: the agent follows its own product release too.
  const endpoint = join(work, 'endpoint');
  expect(ready.productReleaseId).toMatch(/^[0-9a-z]{26}$/);
  const product = ['--product', 'glasshouse-agent', '--product-source', ready.productSource!];
  const init = cli([
    'agent',
    'init',
    '--dir',
    endpoint,
    '--trust',
    ready.trustBundleUrl,
    ...fp,
    ...product,
  ]);
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
  expect(init.stdout).toContain(`from trust bundle ${ready.trustBundleFingerprint}`);
  const update = cli(['agent', 'update', '--dir', endpoint]);
  expect(update.code, update.stderr).toBe(0);
  expect(update.stdout).toMatch(/^installed demo-rules 1\.0\.0 /);
  // The product: the agent's real code, built by its recipe, self-checked, then made current.
  expect(update.stdout).toMatch(
    /^installed glasshouse-agent \S+ glasshouse-agent-\S+ \(current at the next start\)$/m,
  );
  expect(update.stderr).toMatch(
    /self-check: \S+ --version answered, and its scan of \d+ rules self-test samples/,
  );
  const status = cli(['agent', 'status', '--dir', endpoint]);
  const slot = /^product installed \S+ (\S+)$/m.exec(status.stdout)?.[1];
  expect(slot).toMatch(/^glasshouse-agent-/);
  expect(status.stdout).toMatch(/^product running \S+ .*apps\/cli$/m);
  // The installed version runs from its own directory (what the next start runs).
  const next = await execFileAsync(process.execPath, [
    join(endpoint, 'product', 'current', 'dist', 'glasshouse.js'),
    'agent',
    'status',
    '--dir',
    endpoint,
  ]);
  expect(next.stdout).toContain(
    `product running ${/^product installed (\S+)/m.exec(status.stdout)?.[1]} ${join(endpoint, 'product', 'versions', slot!)}`,
  );
  expect(cli(['agent', 'rollback', '--dir', endpoint]).stderr).toMatch(
    /^AGENT_NO_PREVIOUS_VERSION/,
  );
  const files = join(work, 'to-scan');
  await mkdir(files, { recursive: true });
  await writeFile(join(files, 'eicar.com'), eicarTestFile());
  await writeFile(join(files, 'notes.txt'), 'a clean file: nothing to see here\n');
  const scan = cli(['agent', 'scan', '--dir', endpoint, '--json', files]);
  expect(scan.code).toBe(1);
  const records = scan.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; path?: string; rules?: string[] });
  const matches = records.filter((r) => r.type === 'match');
  expect(matches).toEqual([
    expect.objectContaining({ path: join(files, 'eicar.com'), rules: ['eicar_test_file'] }),
  ]);

  // Telemetry, as "Try it" prints it: a customer of one's own enrolled in a
  // region, this endpoint enrolled for it, then a cloud scan of a file no
  // local rule flags but the designated site knows as bad.
  const customer = join(work, 'my-customer');
  expect(cli(['customer', 'init', '--dir', customer]).code).toBe(0);
  const enrolled = cli([
    'customer',
    'enroll',
    '--dir',
    customer,
    '--region',
    'EU',
    '--router',
    ready.routerUrl,
  ]);
  expect(enrolled.stdout, enrolled.stderr).toMatch(
    /^enrolled c-[0-9a-f]{32} region EU sequence 1 /,
  );
  const device = cli([
    'agent',
    'enroll',
    '--dir',
    endpoint,
    '--customer-key',
    join(customer, 'customer.key'),
    '--router',
    ready.routerUrl,
  ]);
  expect(device.stdout, device.stderr).toContain('region EU');
  const dropper = join(work, 'scan-me');
  await mkdir(dropper, { recursive: true });
  await writeFile(join(dropper, 'dropper.bin'), 'glasshouse demo dropper');
  const cloud = cli(['agent', 'scan', '--cloud', '--dir', endpoint, dropper]);
  expect(cloud.code, cloud.stderr).toBe(1);
  expect(cloud.stdout).toContain('dropper.bin: cloud known-bad (site ch-zrh');
  expect(cloud.stderr).toContain('1 stored');
  const sent = cli(['agent', 'telemetry', '--dir', endpoint]);
  expect(sent.stdout).toMatch(/1 events stored at ch-zrh .*receipt verified/);
  // What left the endpoint holds no path, host or user name in clear.
  const outbox = cli(['agent', 'telemetry', '--dir', endpoint, '--json']);
  expect(outbox.stdout).not.toContain('dropper.bin');
}
