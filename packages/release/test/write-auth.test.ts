/**
 * Only allowed callers write to the assembly line: every refusal of
 * @glasshouse/httpsig on POST /releases (release engineers) and POST
 * /releases/:id/attestations (the supervisor), over real HTTP, with no
 * release recorded.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { AllowList, RequestSigner, signedFetch } from '@glasshouse/httpsig';
import { refusalCases, refusalOf } from '../../httpsig/test/refusals.js';
import {
  AssemblyClient,
  buildAssemblyServer,
  initAssemblyDir,
  openAssemblyLine,
  type AssemblyLine,
} from '../src/index.js';

const engineer = generateKeyPairSync('ed25519');
const supervisor = generateKeyPairSync('ed25519');
let work: string;
let line: AssemblyLine;
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'glasshouse-assembly-auth-'));
  await initAssemblyDir({ dir: work });
  line = await openAssemblyLine({ dir: work, sandbox: { kind: 'none', reason: 'test' } });
  const allowList = new AllowList([
    { name: 'release engineer', publicKey: engineer.publicKey, allow: ['POST /releases'] },
    {
      name: 'supervisor',
      publicKey: supervisor.publicKey,
      allow: ['POST /releases/:id/attestations'],
    },
  ]);
  app = buildAssemblyServer({ line, writers: { allowList } });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.close();
  line.close();
  await rm(work, { recursive: true, force: true });
});

const buildRequest = JSON.stringify({ source: 'https://example.org/none.git', commit: 'nope' });

describe.each([
  {
    route: 'POST /releases',
    path: '/releases',
    body: buildRequest,
    allowed: engineer.privateKey,
    other: supervisor.privateKey,
  },
  {
    route: 'POST /releases/:id/attestations',
    path: '/releases/r1/attestations',
    body: JSON.stringify({ attestation: 'x' }),
    allowed: supervisor.privateKey,
    other: engineer.privateKey,
  },
])('$route', ({ route, path, body, allowed, other }) => {
  it.each(refusalCases({ allowed, otherCaller: other }))(
    'refuses $name with a code and records nothing',
    async (c) => {
      const endpoint = {
        url: `${url}${path}`,
        method: 'POST',
        contentType: 'application/json',
        body,
      };
      expect(await refusalOf(await c.send(endpoint))).toEqual([c.status, c.code]);
      expect(line.listReleases()).toEqual([]);
      // Counted by reason and route on the public /metrics.
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toContain(
        `glasshouse_http_writes_refused_total{reason="${c.code}",route="${route}"}`,
      );
    },
  );
});

describe('an allowed caller', () => {
  it('gets past the gate to the request checks (a bad commit is the line’s own 400)', async () => {
    const client = new AssemblyClient(url, {
      fetch: signedFetch(new RequestSigner({ privateKey: engineer.privateKey })),
    });
    await expect(client.build('https://example.org/none.git', 'nope')).rejects.toMatchObject({
      code: 'GIT_BAD_COMMIT',
    });
  });

  it('leaves reads open', async () => {
    expect((await fetch(`${url}/releases`)).status).toBe(200);
  });
});
