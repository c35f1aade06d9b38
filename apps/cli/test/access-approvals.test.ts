// glasshouse access request | approve | deny | list against a real gateway
// (packages/access/test/access-world.ts: witness, logs, site, key release).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519PrivateKey } from '@glasshouse/httpsig';
import type { Ed25519KeyPair } from '@glasshouse/residency';
import {
  type AccessWorld,
  SITE,
  startAccessWorld,
} from '../../../packages/access/test/access-world.js';
import { runCli } from './cli-harness.js';

let w: AccessWorld;
let dir: string;
beforeAll(async () => {
  w = await startAccessWorld();
  dir = await w.tempDir('cli-keys');
}, 60_000);
afterAll(async () => {
  await w.close();
}, 30_000);

async function pem(name: string, k: Ed25519KeyPair): Promise<string> {
  const path = join(dir, `${name}.pem`);
  await writeFile(path, ed25519PrivateKey(k.seed).export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  return path;
}

describe('glasshouse access request | approve | deny | list', () => {
  it('files a request, both approvers sign it, the access with it is served; a denied one is listed as denied', async () => {
    const gw = w.gatewayUrl;
    const request = (ticket: string): Promise<{ code: number; stdout: string; stderr: string }> =>
      pem('support', w.principals.support.key).then((key) =>
        runCli([
          'access',
          'request',
          '--gateway',
          gw,
          '--key',
          key,
          '--site',
          SITE,
          '--customer',
          w.customer.id,
          '--class',
          'personal-fields',
          '--batches',
          w.batches[0] ?? '',
          '--justification',
          'CUSTOMER_INITIATED_SUPPORT',
          '--ticket',
          ticket,
          '--detail',
          'customer asked',
          '--entity',
          'Vendor AG',
          '--country',
          'CH',
          '--role',
          'support-engineer',
        ]),
      );
    const filed = await request('SUP-77');
    expect(filed.code, filed.stderr).toBe(0);
    const [digest, status] = filed.stdout.trim().split(' ');
    expect(status).toBe('pending');
    const customerKey = await pem('customer', w.customer.key);
    const supervisorKey = await pem('supervisor', w.supervisor);
    for (const [role, key] of [
      ['customer', customerKey],
      ['supervisor', supervisorKey],
    ] as const) {
      const r = await runCli([
        'access',
        'approve',
        '--gateway',
        gw,
        '--request',
        digest ?? '',
        '--role',
        role,
        '--key',
        key,
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`approve by ${role}`);
    }
    const list = await runCli(['access', 'list', '--gateway', gw, '--status', 'approved']);
    expect(list.stdout).toContain(`${digest ?? ''} approved ${w.customer.id}`);
    const served = await w.post(
      w.principals.support.key,
      'v1/access',
      JSON.stringify({
        site: SITE,
        customer: w.customer.id,
        dataClass: 'personal-fields',
        scope: { kind: 'batches', batches: [w.batches[0]] },
        justification: {
          code: 'CUSTOMER_INITIATED_SUPPORT',
          detail: 'customer asked',
          ticket: 'SUP-77',
        },
        approval: digest,
      }),
    );
    expect(served.status, JSON.stringify(served.body)).toBe(200);

    const other = (await request('SUP-78')).stdout.split(' ')[0] ?? '';
    const deny = await runCli([
      'access',
      'deny',
      '--gateway',
      gw,
      '--request',
      other,
      '--role',
      'customer',
      '--key',
      customerKey,
    ]);
    expect(deny.code, deny.stderr).toBe(0);
    expect(
      (await runCli(['access', 'list', '--gateway', gw, '--status', 'denied'])).stdout,
    ).toContain(other);
    // A forged approval (the customer role signed by the supervisor's key) is refused with its code.
    const forged = await runCli([
      'access',
      'approve',
      '--gateway',
      gw,
      '--request',
      other,
      '--role',
      'customer',
      '--key',
      supervisorKey,
    ]);
    expect(forged.code).not.toBe(0);
    expect(forged.stderr).toContain('APPROVAL_SIGNATURE_INVALID');
  }, 60_000);

  it('has --help and clear usage errors', async () => {
    const help = await runCli(['access', 'approve', '--help']);
    expect(help.stdout).toContain('--request <digest>');
    const bad = await runCli([
      'access',
      'approve',
      '--gateway',
      w.gatewayUrl,
      '--request',
      'nope',
      '--role',
      'customer',
      '--key',
      'x',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--request is sha256');
  });
});
