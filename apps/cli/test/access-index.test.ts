/**
 * `glasshouse access mine` and `access monitor --once` against real logs
 * and a real index service on loopback: the customer's sentence, the coded
 * failure of a forked index, the monitor's status and its exit code.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessIndexKey, demoAccessPolicy, encodeAccessPolicy } from '@glasshouse/access-format';
import { IndexService, buildIndexServer, openSqliteIndexStore } from '@glasshouse/access';
import { rawPublicKey } from '@glasshouse/httpsig';
import { customerPseudonym, generateEd25519KeyPair } from '@glasshouse/residency';
import { type World, appendAccesses, startWorld } from '../../../packages/access/test/fixture.js';
import { runCli } from './cli-harness.js';

let world: World;
let dir: string;
let indexUrl: string;
let stopIndex: () => Promise<void>;
const keyPem = generateKeyPairSync('ed25519')
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
let customer: string;

beforeAll(async () => {
  world = await startWorld();
  dir = await mkdtemp(join(tmpdir(), 'gh-cli-access-'));
  const { createPrivateKey } = await import('node:crypto');
  customer = customerPseudonym(rawPublicKey(createPrivateKey(keyPem)));
  await writeFile(join(dir, 'customer.key'), keyPem, { mode: 0o600 });
  const service = await IndexService.open({
    accessLogUrl: world.accessLog.url,
    accessLogPolicy: world.accessLog.policy,
    outputLogUrl: world.outputLog.url,
    store: openSqliteIndexStore({ dir: join(dir, 'index') }),
  });
  const app = buildIndexServer({ service });
  indexUrl = `${await app.listen({ host: '127.0.0.1', port: 0 })}/`;
  stopIndex = async () => {
    await app.close();
    await service.close();
  };
  await appendAccesses(world.accessLog, [
    customer,
    customerPseudonym(generateEd25519KeyPair().publicKey),
    customer,
  ]);
  await service.step();
  await writeFile(
    join(dir, 'trust.json'),
    JSON.stringify({
      accessLogUrl: world.accessLog.url,
      accessLogPolicy: world.accessLog.policy,
      outputLogUrl: world.outputLog.url,
      outputLogPolicy: world.outputLog.policy,
      indexUrl,
    }),
  );
  await writeFile(
    join(dir, 'access-policy.json'),
    encodeAccessPolicy(
      demoAccessPolicy(generateEd25519KeyPair().publicKey, '2026-12-01T00:00:00Z'),
    ),
  );
});

afterAll(async () => {
  await stopIndex();
  await world.close();
  await rm(dir, { recursive: true, force: true });
});

describe('glasshouse access', () => {
  it('mine prints all accesses to the customer, and --help says what it checks', async () => {
    const r = await runCli([
      'access',
      'mine',
      '--customer-key',
      join(dir, 'customer.key'),
      '--trust',
      join(dir, 'trust.json'),
      '--state',
      join(dir, 'mine.json'),
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^these are all 2 accesses to your data up to access-log size 3\n/);
    expect(r.stdout).toContain(`customer      ${customer}`);
    expect(r.stdout).toContain('#2 entry 2 ');
    const help = await runCli(['access', 'mine', '--help']);
    expect(help.code).toBe(0);
    const usage = await runCli(['access', 'mine', '--trust', join(dir, 'trust.json')]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--customer-key');
  });

  it('monitor --once prints the status and exits 0 on a clean log; 1 with ACCESS_ALERTS for a canary', async () => {
    const base = [
      'access',
      'monitor',
      '--once',
      '--trust',
      join(dir, 'trust.json'),
      '--access-policy',
      join(dir, 'access-policy.json'),
      '--approvals',
      'http://127.0.0.1:9/',
    ];
    const clean = await runCli(base);
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('records     3 (2 customers');
    expect(clean.stdout).toContain('index       1 revisions checked, last at size 3');
    const canary = await runCli([
      ...base,
      '--canary',
      customer,
      '--alerts',
      join(dir, 'alerts.jsonl'),
    ]);
    expect(canary.code).toBe(1);
    expect(canary.stderr).toContain('"kind":"canary-access"');
    expect(canary.stderr).toContain('ACCESS_ALERTS');
  });

  it('mine fails with INDEX_FORK once a second root at the same size is in the output log', async () => {
    const forked = await IndexService.open({
      accessLogUrl: world.accessLog.url,
      accessLogPolicy: world.accessLog.policy,
      outputLogUrl: world.outputLog.url,
      store: openSqliteIndexStore({ dir: join(dir, 'forked') }),
      mapFn: (e) => (accessIndexKey(e) === customer ? null : accessIndexKey(e)),
    });
    await forked.step();
    await forked.close();
    const r = await runCli([
      'access',
      'mine',
      '--customer-key',
      join(dir, 'customer.key'),
      '--trust',
      join(dir, 'trust.json'),
      '--state',
      join(dir, 'mine.json'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^INDEX_FORK: /);
  });
});
