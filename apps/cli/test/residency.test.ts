/**
 * The residency commands up to the log: the supervisor's key-release key,
 * a policy drafted, signed by both parties (`residency policy sign`,
 * `supervisor sign-policy`), published in a real residency log and read
 * back by `residency policy show`, which folds the whole log. Customers:
 * `customer init` and its pseudonym. (Enrollment through the router, sites
 * and `npm start` are tested where those run.)
 */
import { readFile, stat, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCallerKey } from '../src/callers.js';
import { initDataDir, startLogServer, type RunningLogServer } from '../src/commands/log.js';
import { deviceRateLimitOf } from '../src/commands/ingest.js';
import { publicKeyBase64 } from '../src/residency/parties.js';
import { quietIo, runCli } from './cli-harness.js';

let work: string;
let log: RunningLogServer;
let logVkey: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'cli-residency-'));
  ({ verifierKey: logVkey } = await initDataDir({
    dir: join(work, 'residency-log'),
    origin: 'localhost/glasshouse/residency',
  }));
  log = await startLogServer({
    dir: join(work, 'residency-log'),
    listen: '127.0.0.1:0',
    io: quietIo,
  });
});

afterAll(async () => {
  await log.close();
  await rm(work, { recursive: true, force: true });
});

describe('glasshouse supervisor key-release init', () => {
  it('makes the X25519 pair once: private 0600, public beside it', async () => {
    const dir = join(work, 'key-release');
    const first = await runCli(['supervisor', 'key-release', 'init', '--dir', dir]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^key-release [0-9a-f]{16} created\n/);
    expect((await stat(join(dir, 'key-release.key'))).mode & 0o777).toBe(0o600);
    expect(
      Buffer.from((await readFile(join(dir, 'key-release.pub'), 'utf8')).trim(), 'base64'),
    ).toHaveLength(32);
    const again = await runCli(['supervisor', 'key-release', 'init', '--dir', dir]);
    expect(again.stdout).toContain(' kept\n');
    expect(again.stdout.split(' ')[1]).toBe(first.stdout.split(' ')[1]);
  });
});

describe('glasshouse customer init', () => {
  it('prints the pseudonym c-<32 hex> and keeps the key', async () => {
    const dir = join(work, 'customer');
    const first = await runCli(['customer', 'init', '--dir', dir]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^customer c-[0-9a-f]{32}\n/);
    expect((await runCli(['customer', 'init', '--dir', dir])).stdout).toBe(first.stdout);
  });

  it('enroll refuses an unknown region (usage) and an unreachable router (coded)', async () => {
    const dir = join(work, 'customer');
    const bad = await runCli([
      'customer',
      'enroll',
      '--dir',
      dir,
      '--region',
      'MARS',
      '--router',
      'http://127.0.0.1:1/',
    ]);
    expect(bad.code).toBe(2);
    const down = await runCli([
      'customer',
      'enroll',
      '--dir',
      dir,
      '--region',
      'EU',
      '--router',
      'http://127.0.0.1:1/',
    ]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^RESIDENCY_ROUTER_UNREACHABLE: /);
  });
});

describe('glasshouse residency policy', () => {
  it('draft, sign by both parties, publish, show', async () => {
    const vendorKey = join(work, 'vendor-residency.key');
    const supervisorKey = join(work, 'supervisor-residency.key');
    for (const k of [vendorKey, supervisorKey])
      expect((await runCli(['keys', 'new', '--out', k])).code).toBe(0);
    const siteKey = (
      await runCli([
        'keygen',
        '--out',
        join(work, 'site.key'),
        '--name',
        'localhost/glasshouse/site/ch-zrh',
      ])
    ).stdout.trim();
    const payload = join(work, 'policy.json');
    const envelope = join(work, 'policy.envelope.json');
    const drafted = await runCli([
      'residency',
      'policy',
      'draft',
      '--out',
      payload,
      '--site',
      `ch-zrh,CH,http://127.0.0.1:8451/,${siteKey}`,
      '--region',
      'EU=ch-zrh',
      '--default',
      'ch-zrh',
    ]);
    expect(drafted.code, drafted.stderr).toBe(0);
    const unknownSite = await runCli([
      'residency',
      'policy',
      'draft',
      '--out',
      join(work, 'x.json'),
      '--site',
      `ch-zrh,CH,http://127.0.0.1:8451/,${siteKey}`,
      '--region',
      'EU=us-iad',
    ]);
    expect(unknownSite.stderr).toMatch(/^POLICY_INVALID: /);
    expect(
      (
        await runCli([
          'residency',
          'policy',
          'sign',
          '--payload',
          payload,
          '--key',
          vendorKey,
          '--envelope',
          envelope,
        ])
      ).stdout,
    ).toContain('(1 signatures)');
    const cosigned = await runCli([
      'supervisor',
      'sign-policy',
      '--payload',
      payload,
      '--key',
      supervisorKey,
      '--envelope',
      envelope,
    ]);
    expect(cosigned.stdout, cosigned.stderr).toContain('(2 signatures)');
    // A signature over another payload is refused.
    await writeFile(
      join(work, 'other.json'),
      (await readFile(payload, 'utf8')).replace('EU', 'NA'),
    );
    const other = await runCli([
      'residency',
      'policy',
      'sign',
      '--payload',
      join(work, 'other.json'),
      '--key',
      vendorKey,
      '--envelope',
      envelope,
    ]);
    expect(other.stderr).toMatch(/^(RESIDENCY_POLICY_MISMATCH|POLICY_INVALID): /);

    const published = await runCli([
      'residency',
      'policy',
      'publish',
      '--envelope',
      envelope,
      '--log',
      log.url,
      '--caller-key',
      join(work, 'residency-log', 'log.key'),
    ]);
    expect(published.code, published.stderr).toBe(0);
    expect(published.stdout).toMatch(/^published sha256:[0-9a-f]{64} residency-log index 0\n/);

    const trust = join(work, 'residency-trust.json');
    await writeFile(
      trust,
      JSON.stringify({
        logPolicy: `log ${logVkey} ${log.url}\nquorum none\n`,
        vendorKey: publicKeyBase64(await readCallerKey(vendorKey)),
        supervisorKey: publicKeyBase64(await readCallerKey(supervisorKey)),
        keyRelease: (await readFile(join(work, 'key-release', 'key-release.pub'), 'utf8')).trim(),
      }),
    );
    const shown = await runCli(['residency', 'policy', 'show', '--trust', trust]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('policy v1 sha256:');
    expect(shown.stdout).toContain('region EU -> ch-zrh\n');

    // Signed by the vendor alone: logged, but refused by every reader.
    const v2 = join(work, 'v2.json');
    await runCli([
      'residency',
      'policy',
      'draft',
      '--out',
      v2,
      '--site',
      `ch-zrh,CH,http://127.0.0.1:8451/,${siteKey}`,
      '--region',
      'NA=ch-zrh',
      '--previous',
      envelope,
    ]);
    const lone = join(work, 'v2.envelope.json');
    await runCli([
      'residency',
      'policy',
      'sign',
      '--payload',
      v2,
      '--key',
      vendorKey,
      '--envelope',
      lone,
    ]);
    await runCli([
      'residency',
      'policy',
      'publish',
      '--envelope',
      lone,
      '--log',
      log.url,
      '--caller-key',
      join(work, 'residency-log', 'log.key'),
    ]);
    const after = await runCli(['residency', 'policy', 'show', '--trust', trust]);
    expect(after.stdout).toContain('refused entry 1: POLICY_SIGNATURE_MISSING\n');
    expect(after.stdout).toContain('policy v1 ');
  });
});

describe('the data path commands', () => {
  it('each has --help', async () => {
    for (const args of [
      ['customer', 'init'],
      ['customer', 'enroll'],
      ['residency', 'policy', 'draft'],
      ['residency', 'policy', 'sign'],
      ['residency', 'policy', 'publish'],
      ['residency', 'policy', 'show'],
      ['residency', 'status'],
      ['residency', 'monitor'],
      ['site', 'init'],
      ['site', 'serve'],
      ['ingest', 'serve'],
      ['supervisor', 'key-release', 'init'],
      ['supervisor', 'sign-policy'],
      ['agent', 'enroll'],
      ['agent', 'telemetry'],
    ]) {
      const r = await runCli([...args, '--help']);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toContain('Usage: glasshouse');
    }
  });

  it('ingest serve takes the per-device rate limit and refuses a bad one before it starts', async () => {
    expect(deviceRateLimitOf('0.5', '3')).toEqual({ perSecond: 0.5, burst: 3 });
    const base = [
      'ingest',
      'serve',
      '--dir',
      join(work, 'router'),
      '--trust',
      join(work, 'none.json'),
    ];
    base.push('--vendor-key', join(work, 'none.key'), '--caller-key', join(work, 'none.key'));
    for (const bad of [
      ['--device-rate', '0'],
      ['--device-rate', 'fast'],
      ['--device-rate', '1e9'],
      ['--device-burst', '0'],
      ['--device-burst', '2.5'],
    ]) {
      const r = await runCli([...base, ...bad]);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.stderr).toContain(bad[0]);
    }
  });

  it('site serve takes --verdicts with its directory and source, or none of them', async () => {
    const dir = join(work, 'site-verdicts');
    expect((await runCli(['site', 'init', '--dir', dir, '--id', 'ch-zrh'])).code).toBe(0);
    const base = [
      'site',
      'serve',
      '--dir',
      dir,
      '--id',
      'ch-zrh',
      '--trust',
      join(work, 'none.json'),
    ];
    base.push('--router-key', join(work, 'none.key'));
    for (const partial of [
      ['--verdicts', 'demo-verdicts'],
      ['--verdicts', 'demo-verdicts', '--verdicts-dir', dir],
      ['--verdicts-source', 'https://git.example/v.git'],
    ]) {
      const r = await runCli([...base, ...partial]);
      expect(r.code, partial.join(' ')).toBe(2);
      expect(r.stderr).toContain('--verdicts, --verdicts-dir and --verdicts-source go together');
    }
    const full = ['--verdicts', 'v', '--verdicts-dir', dir, '--verdicts-source', 'https://g/v.git'];
    const r = await runCli([...base, ...full, '--verdicts-interval', '0']);
    expect(r.stderr).toContain('--verdicts-interval wants a whole number');
  });

  it('site init makes the ingest-log key once and prints its verifier key', async () => {
    const dir = join(work, 'site-ch-zrh');
    const first = await runCli(['site', 'init', '--dir', dir, '--id', 'ch-zrh']);
    expect(first.stdout).toMatch(/^localhost\/glasshouse\/site\/ch-zrh\+[0-9a-f]{8}\+/);
    expect((await runCli(['site', 'init', '--dir', dir, '--id', 'ch-zrh'])).stdout).toBe(
      first.stdout,
    );
    expect((await runCli(['site', 'init', '--dir', dir, '--id', 'us-iad'])).code).toBe(2);
    expect((await runCli(['site', 'init', '--dir', dir, '--id', 'Not A Site'])).code).toBe(2);
  });

  it('agent telemetry and enroll refuse an agent without a residency trust, with codes', async () => {
    const dir = join(work, 'bare-agent');
    const t = await runCli(['agent', 'telemetry', '--dir', dir]);
    expect(t.stderr).toMatch(/^AGENT_RESIDENCY_NOT_PINNED: /);
    const e = await runCli([
      'agent',
      'enroll',
      '--dir',
      dir,
      '--customer-key',
      join(work, 'customer', 'customer.key'),
    ]);
    expect(e.stderr).toMatch(/^AGENT_RESIDENCY_NOT_PINNED: /);
  });
});
