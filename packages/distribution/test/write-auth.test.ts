/**
 * Only allowed callers publish: every refusal of @glasshouse/httpsig on the
 * repository's POST /publish, over real HTTP, with nothing published. The
 * draft signature uploads stay open (checked against the drafts' keys) but
 * are rate-limited per client.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { generateSigningKey, publicKeyToPem } from '@glasshouse/attest';
import { AllowList, RequestSigner, signedFetch } from '@glasshouse/httpsig';
import { refusalCases, refusalOf } from '../../httpsig/test/refusals.js';
import { RepoClient, RepoService, buildRepoServer } from '../src/index.js';

const operator = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
let dir: string;
let service: RepoService;
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glasshouse-repo-auth-'));
  // Nothing listens on port 1: a publish that gets past the gate fails upstream, writing nothing.
  service = new RepoService({
    dir,
    assemblyUrl: 'http://127.0.0.1:1',
    releaseLogUrl: 'http://127.0.0.1:1/',
    layoutKeyPem: publicKeyToPem(generateSigningKey().verifier),
  });
  const allowList = new AllowList([
    { name: 'vendor operator', publicKey: operator.publicKey, allow: ['POST /publish'] },
    { name: 'someone else', publicKey: other.publicKey, allow: ['POST /elsewhere'] },
  ]);
  app = buildRepoServer({ service, writers: { allowList } });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  service.stop();
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

describe('POST /publish', () => {
  it.each(refusalCases({ allowed: operator.privateKey, otherCaller: other.privateKey }))(
    'refuses $name with a code and publishes nothing',
    async (c) => {
      const endpoint = {
        url: `${url}/publish`,
        method: 'POST',
        contentType: 'application/json',
        body: JSON.stringify({ releaseId: 'r1' }),
      };
      expect(await refusalOf(await c.send(endpoint))).toEqual([c.status, c.code]);
      expect(await readdir(dir)).toEqual([]);
      // Counted by reason and route on the public /metrics.
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toContain(
        `glasshouse_http_writes_refused_total{reason="${c.code}",route="POST /publish"}`,
      );
    },
  );

  it('lets the allowed caller through, without a token, to the publish itself', async () => {
    const client = new RepoClient(url, {
      fetch: signedFetch(new RequestSigner({ privateKey: operator.privateKey })),
    });
    await expect(client.publish('r1')).rejects.toMatchObject({ code: 'ASSEMBLY_UNREACHABLE' });
  });

  it('does not take a bearer token instead of a signature', async () => {
    const res = await fetch(`${url}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer anything' },
      body: JSON.stringify({ releaseId: 'r1' }),
    });
    expect(await refusalOf(res)).toEqual([401, 'AUTH_SIGNATURE_MISSING']);
  });
});

describe('draft signature uploads', () => {
  it('stay open but are rate-limited per client', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++) {
      const res = await fetch(`${url}/drafts/root/signatures`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ keyid: 'k', sig: 's' }),
      });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses[0]).not.toBe(401);
    expect(statuses.at(-1)).toBe(429);
  });
});
