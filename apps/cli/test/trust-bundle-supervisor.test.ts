/**
 * The supervisor's check before it co-signs `start`'s trust bundle: the
 * bundle's residency field must name the supervisor's residency key and
 * key-release key as the supervisor holds them in its own directory.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSupervisorTufKeys, type SupervisorTufKeys } from '@glasshouse/distribution';
import type { Supervisor } from '@glasshouse/release';
import { TRUST_BUNDLE_SCHEMA, type TrustBundle } from '@glasshouse/release-format';
import { generateKeyReleaseKeyPair, toBase64 } from '@glasshouse/residency';
import { dataPaths, supervisorResidencyKeys } from '../src/start/data-prepare.js';
import { ensureKeyReleaseKey, partyKey, publicKeyBase64 } from '../src/residency/parties.js';
import { supervisorCheck, type TrustBundleInputs } from '../src/start/trust-bundle.js';

let work = '';
let tuf: SupervisorTufKeys;
const builder = { builderId: 'https://vendor.example/builder/v1', publicKeyPem: 'BUILDER PEM' };
// The fields of a Supervisor the check reads: its VSA identity and the builders it pinned.
const supervisor = {
  identity: { publicKeyPem: 'SUPERVISOR PEM', verifierId: 'https://supervisor.example/v1' },
  config: { builders: [builder] },
} as unknown as Supervisor;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'glasshouse-cli-trust-'));
  await mkdir(join(work, 'tuf'), { recursive: true });
  tuf = await ensureSupervisorTufKeys(join(work, 'tuf'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function bundle(residency: TrustBundle['residency']): TrustBundle {
  const vendorKeyid = 'ab'.repeat(32);
  return {
    schema: TRUST_BUNDLE_SCHEMA,
    tufRoot: {
      signed: { roles: { root: { keyids: [vendorKeyid, tuf.root.keyid], threshold: 2 } } },
      signatures: [],
    },
    witnessPolicy: '',
    repoUrl: 'http://127.0.0.1:8460',
    logUrl: 'http://127.0.0.1:8480/',
    rulesName: 'demo-rules',
    source: 'file:///srv/demo-source',
    supervisor: {
      publicKeyPem: supervisor.identity.publicKeyPem,
      verifierId: supervisor.identity.verifierId,
      tufKeys: { root: tuf.root.publicKey, release: tuf.release.publicKey },
    },
    builder,
    ...(residency === undefined ? {} : { residency }),
  };
}

async function inputs(data: string): Promise<TrustBundleInputs> {
  return {
    repoDir: join(work, 'repo'),
    repoUrl: 'http://127.0.0.1:8460',
    logUrl: 'http://127.0.0.1:8480/',
    witnessPolicy: '',
    rulesName: 'demo-rules',
    source: 'file:///srv/demo-source',
    builder: { ...builder } as TrustBundleInputs['builder'],
    supervisor,
    supervisorTufKeys: tuf,
    supervisorResidency: await supervisorResidencyKeys(data),
  };
}

describe("the supervisor co-signs a trust bundle's residency field only with its own keys", () => {
  it('accepts its keys; refuses a vendor key-release key, another supervisor key, or keys it lacks', async () => {
    const data = join(work, 'data');
    const paths = dataPaths(data);
    // What the data half makes in the supervisor's directory.
    await mkdir(join(data, 'supervisor'), { recursive: true, mode: 0o700 });
    const supervisorKey = publicKeyBase64(await partyKey(paths.supervisorResidencyKey, true));
    const keyRelease = toBase64((await ensureKeyReleaseKey(paths.keyRelease)).publicKey);
    const vendorKey = publicKeyBase64(await partyKey(join(work, 'vendor-residency.key'), true));
    const residency = {
      logPolicy: 'log localhost/glasshouse/residency+01234567+AAAA http://127.0.0.1:8481/\n',
      vendorKey,
      supervisorKey,
      keyRelease,
    };
    const own = await inputs(data);
    expect(() => {
      supervisorCheck(bundle(residency), own);
    }).not.toThrow();
    expect(() => {
      supervisorCheck(bundle(undefined), own);
    }).not.toThrow();

    const vendorsOwn = toBase64((await generateKeyReleaseKeyPair()).publicKey);
    const refused = [
      bundle({ ...residency, keyRelease: vendorsOwn }),
      bundle({ ...residency, supervisorKey: vendorKey, vendorKey: supervisorKey }),
    ];
    for (const b of refused) {
      expect(() => {
        supervisorCheck(b, own);
      }).toThrow(expect.objectContaining({ code: 'START_TRUST_BUNDLE' }) as Error);
    }
    // A supervisor without residency keys vouches for no residency field.
    const bare = await inputs(join(work, 'no-data-half'));
    expect(bare.supervisorResidency).toBeUndefined();
    expect(() => {
      supervisorCheck(bundle(residency), bare);
    }).toThrow(expect.objectContaining({ code: 'START_TRUST_BUNDLE' }) as Error);
  });
});
