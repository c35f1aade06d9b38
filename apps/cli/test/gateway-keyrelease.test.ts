/**
 * `glasshouse gateway init|serve` and `glasshouse keyrelease serve` as
 * real processes (the built CLI, each in its own process group, on ports
 * the system picks) against the access fixture's witness, residency log,
 * data site and access log: one real access goes through them (record
 * witnessed, keys released, data decrypted, receipt verified); bad
 * configuration is refused with a coded message before anything listens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAccessPolicy, parseAccessRecord } from '@glasshouse/access-format';
import { ed25519PrivateKey, signedFetch } from '@glasshouse/httpsig';
import { parsePolicy, verifyTlogProof } from '@glasshouse/tlog';
import { toBase64 } from '@glasshouse/residency';
import {
  type AccessWorld,
  SITE,
  signer,
  startAccessWorld,
} from '../../../packages/access/test/access-world.js';
import { witnessLines } from '../../../packages/telemetry/test/residency-fixture.js';
import {
  type TestDatabase,
  createTestDatabase,
  describePostgres,
  queryDb,
} from '../../../packages/db/test/postgres-fixture.js';
import { CLI, REPO_ROOT, ensureCliBuilt } from './built-cli.js';
import { runCli } from './cli-harness.js';

let w: AccessWorld;
let dir: string;
let files: Record<'accessLogPolicy' | 'accessPolicy' | 'principals' | 'residencyTrust', string>;
let gatewayDir: string;
let keyReleaseDir: string;
const groups: ChildProcess[] = [];

/** The shared configuration options of both serve commands. */
const configArgs = (over: Partial<typeof files> = {}): string[] => {
  const f = { ...files, ...over };
  return [
    '--access-log-policy',
    f.accessLogPolicy,
    '--access-policy',
    f.accessPolicy,
    '--principals',
    f.principals,
    '--residency-trust',
    f.residencyTrust,
  ];
};

interface Serving {
  readonly child: ChildProcess;
  readonly url: string;
  readonly stderr: () => string;
}

/** The built CLI in a process group of its own; resolves on its `url` line. */
function serve(args: readonly string[]): Promise<Serving> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  groups.push(child);
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${args[0]} not ready in 60 s: ${err}`));
    }, 60_000);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const url = /^url (\S+)$/m.exec(out)?.[1];
      if (url !== undefined) {
        clearTimeout(timer);
        resolve({ child, url, stderr: () => err });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited (${code ?? signal}): ${err}`));
    });
  });
}

/** The registry with its signature replaced by zeros. */
function forgedRegistry(): string {
  const env = JSON.parse(w.registryText) as { signatures: { sig: string }[] };
  for (const s of env.signatures) s.sig = Buffer.alloc(64).toString('base64');
  return JSON.stringify(env);
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the process group; resolves once no process of it is left. */
async function stopGroup(child: ChildProcess): Promise<void> {
  const pgid = child.pid;
  if (pgid === undefined || !groupAlive(pgid)) return;
  process.kill(-pgid, 'SIGTERM');
  const deadline = Date.now() + 20_000;
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(groupAlive(pgid)).toBe(false);
}

beforeAll(async () => {
  ensureCliBuilt();
  w = await startAccessWorld();
  dir = await w.tempDir('cli-serve');
  const put = async (name: string, text: string | Uint8Array): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  files = {
    // The policy's log line carries the log's URL: where the gateway appends.
    accessLogPolicy: await put(
      'access-log-policy.txt',
      `log ${w.accessLog.verifierKey} ${w.accessLog.url}\n${witnessLines(w.witness)}`,
    ),
    accessPolicy: await put('access-policy.json', encodeAccessPolicy(w.accessPolicy)),
    principals: await put('principals.dsse.json', w.registryText),
    residencyTrust: await put(
      'residency-trust.json',
      JSON.stringify({
        logPolicy: `log ${w.residency.verifierKey} ${w.residency.url}\n${witnessLines(w.witness)}`,
        vendorKey: toBase64(w.vendor.publicKey),
        supervisorKey: toBase64(w.supervisor.publicKey),
        keyRelease: toBase64(w.keyReleaseKeys.publicKey),
      }),
    ),
  };
  // The gateway's key is the one the fixture's site lets read; the key release's the one batches are sealed to.
  gatewayDir = join(dir, 'gateway');
  await mkdir(gatewayDir, { mode: 0o700 });
  await writeFile(
    join(gatewayDir, 'caller.key'),
    ed25519PrivateKey(w.gatewayKey.seed).export({ type: 'pkcs8', format: 'pem' }),
    { mode: 0o600 },
  );
  await writeFile(
    join(dir, 'gateway.pub'),
    createPublicKey(ed25519PrivateKey(w.gatewayKey.seed)).export({ type: 'spki', format: 'pem' }),
  );
  keyReleaseDir = join(dir, 'key-release');
  await mkdir(keyReleaseDir, { mode: 0o700 });
  await writeFile(
    join(keyReleaseDir, 'key-release.key'),
    `${toBase64(w.keyReleaseKeys.privateKey)}\n`,
    {
      mode: 0o600,
    },
  );
  await writeFile(
    join(keyReleaseDir, 'key-release.pub'),
    `${toBase64(w.keyReleaseKeys.publicKey)}\n`,
  );
}, 180_000);

afterAll(async () => {
  for (const c of groups) {
    if (c.pid !== undefined && groupAlive(c.pid)) process.kill(-c.pid, 'SIGKILL');
  }
  await w.close();
}, 60_000);

describe('glasshouse gateway serve and keyrelease serve', () => {
  it('serve one access as real processes: witnessed record, released keys, decrypted data; stop by process group', async () => {
    // init keeps the keys that are there and prints their public halves.
    const gwInit = await runCli(['gateway', 'init', '--dir', gatewayDir]);
    expect(gwInit.code, gwInit.stderr).toBe(0);
    const gatewayPub = createPublicKey(gwInit.stdout).export({ type: 'spki', format: 'der' });
    expect(gatewayPub.subarray(-32).equals(Buffer.from(w.gatewayKey.publicKey))).toBe(true);
    expect(gwInit.stdout).toBe(await readFile(join(dir, 'gateway.pub'), 'utf8'));
    const krInit = await runCli(['supervisor', 'key-release', 'init', '--dir', keyReleaseDir]);
    expect(krInit.code, krInit.stderr).toBe(0);
    expect(krInit.stdout).toContain('kept');

    await serveOneAccess([], w.batches[0] ?? '', 'alice-1');
  }, 180_000);

  it('refuses bad configuration with a coded message, listening on nothing', async () => {
    const bad = async (name: string, text: string): Promise<string> => {
      const path = join(dir, name);
      await writeFile(path, text);
      return path;
    };
    const gateway = (extra: string[], over: Partial<typeof files> = {}) =>
      runCli([
        'gateway',
        'serve',
        '--dir',
        gatewayDir,
        ...configArgs(over),
        '--key-release',
        'http://127.0.0.1:9/',
        '--listen',
        '127.0.0.1:0',
        ...extra,
      ]);
    const cases: [Promise<{ code: number; stderr: string }>, string][] = [
      // No URL on the log line: the gateway would not know where to append.
      [
        gateway([], {
          accessLogPolicy: await bad(
            'no-url.txt',
            `log ${w.accessLog.verifierKey}\n${witnessLines(w.witness)}`,
          ),
        }),
        'CONFIG_INVALID',
      ],
      // No witness: an unwitnessed record must never open data.
      [
        gateway([], {
          accessLogPolicy: await bad(
            'no-witness.txt',
            `log ${w.accessLog.verifierKey} ${w.accessLog.url}\nquorum none\n`,
          ),
        }),
        'CONFIG_INVALID',
      ],
      [gateway([], { accessPolicy: await bad('policy.json', '{"schema":"x"}') }), 'ACCESS_POLICY'],
      // A registry not signed by a supervisor key of the access policy.
      [
        gateway([], {
          principals: await bad('registry.json', forgedRegistry()),
        }),
        'REGISTRY_INVALID',
      ],
      [gateway([], { residencyTrust: await bad('trust.json', '{"logPolicy":1}') }), 'residency'],
      [gateway(['--witness-timeout-ms', 'soon']), '--witness-timeout-ms'],
      [
        runCli([
          'gateway',
          'serve',
          '--dir',
          join(dir, 'nothing'),
          ...configArgs(),
          '--key-release',
          'http://127.0.0.1:9/',
        ]),
        'run "glasshouse gateway init"',
      ],
    ];
    // A key release whose key is not the one the residency trust names (the agents seal to that one).
    const otherDir = join(dir, 'other-key-release');
    expect((await runCli(['supervisor', 'key-release', 'init', '--dir', otherDir])).code).toBe(0);
    const keyRelease = (d: string, extra: string[] = []) =>
      runCli([
        'keyrelease',
        'serve',
        '--dir',
        d,
        ...configArgs(),
        '--gateway-key',
        join(dir, 'gateway.pub'),
        '--listen',
        '127.0.0.1:0',
        ...extra,
      ]);
    cases.push(
      [keyRelease(otherDir), 'CONFIG_INVALID'],
      [keyRelease(keyReleaseDir, ['--canary', 'alice']), '--canary'],
      [keyRelease(join(dir, 'none')), 'run "glasshouse supervisor key-release init"'],
    );
    for (const [run, expected] of cases) {
      const r = await run;
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(expected);
    }
    expect((await runCli(['gateway', 'serve', '--help'])).code).toBe(0);
    expect((await runCli(['keyrelease', 'serve', '--help'])).code).toBe(0);
  }, 120_000);
});

/**
 * Starts `keyrelease serve` and `gateway serve` (with `storage` options),
 * has the analyst read `batch` through them, checks the answer and the
 * receipt, and stops both by process group.
 */
async function serveOneAccess(
  storage: readonly string[],
  batch: string,
  user: string,
): Promise<void> {
  const kr = await serve([
    'keyrelease',
    'serve',
    '--dir',
    keyReleaseDir,
    ...configArgs(),
    '--gateway-key',
    join(dir, 'gateway.pub'),
    '--listen',
    '127.0.0.1:0',
    ...storage,
  ]);
  const gw = await serve([
    'gateway',
    'serve',
    '--dir',
    gatewayDir,
    ...configArgs(),
    '--key-release',
    kr.url,
    '--listen',
    '127.0.0.1:0',
    ...storage,
  ]);
  expect((await fetch(new URL('healthz', gw.url))).status).toBe(200);
  expect((await fetch(new URL('healthz', kr.url))).status).toBe(200);

  const analyst = signedFetch(signer(w.principals.analyst.key));
  const res = await analyst(new URL('v1/access', gw.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      site: SITE,
      customer: w.customer.id,
      dataClass: 'telemetry-events',
      scope: { kind: 'batches', batches: [batch] },
      justification: { code: 'THREAT_INVESTIGATION', detail: 'campaign seen elsewhere' },
    }),
  });
  const body = (await res.json()) as {
    record: string;
    receipt: string;
    batches: { digest: string; events: { personal: { user: string } }[] }[];
  };
  expect(res.status, JSON.stringify(body)).toBe(200);
  // The data, decrypted with keys only the key release process holds.
  expect(body.batches.map((b) => b.digest)).toEqual([batch]);
  expect(body.batches[0]?.events[0]?.personal.user).toBe(user);
  // The record's receipt verifies under the access log's witness policy.
  const record = new TextEncoder().encode(body.record);
  expect(parseAccessRecord(record).customer).toBe(w.customer.id);
  const v = verifyTlogProof(
    body.receipt,
    record,
    parsePolicy(`log ${w.accessLog.verifierKey}\n${witnessLines(w.witness)}`),
  );
  expect(v.cosigners.length).toBeGreaterThan(0);
  // A principal the registry does not hold is refused with a code, nothing served.
  const outsider = await signedFetch(signer(w.outsider))(new URL('v1/access', gw.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(outsider.status).toBe(401);
  expect(((await outsider.json()) as { code: string }).code).toBe('AUTH_KEY_UNKNOWN');

  await stopGroup(gw.child);
  await stopGroup(kr.child);
  expect(gw.stderr()).toContain('gateway: shutting down');
  expect(kr.stderr()).toContain('key release: shutting down');
  for (const url of [gw.url, kr.url]) {
    await expect(fetch(new URL('healthz', url))).rejects.toThrow();
  }
}

describePostgres('glasshouse gateway serve and keyrelease serve on PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('gateway_cli');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('serve one access with records, approvals and the release audit in PostgreSQL', async () => {
    await serveOneAccess(['--postgres', db.url], w.batches[1] ?? '', 'alice-3');
    const schemas = await queryDb(
      db.url,
      "SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_schema IN ('gateway', 'approvals', 'keyrelease_audit') ORDER BY 1",
    );
    expect(schemas.rows.map((r: { table_schema: string }) => r.table_schema)).toEqual([
      'approvals',
      'gateway',
      'keyrelease_audit',
    ]);
  }, 180_000);
});
