/**
 * Only allowed callers write to the log: every refusal of @glasshouse/httpsig
 * on POST /add and POST /add-batch, over real HTTP, with nothing sequenced.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { AllowList, RequestSigner, signedFetch } from '@glasshouse/httpsig';
import { encodeBundle } from '@glasshouse/tlog';
import { refusalCases, refusalOf } from '../../httpsig/test/refusals.js';
import { LogClient } from '../src/client.js';
import { buildServer } from '../src/server.js';
import { makeTestLog, utf8, type TestLog } from './fixtures.js';

const repository = generateKeyPairSync('ed25519');
const witnessOperator = generateKeyPairSync('ed25519');
let t: TestLog;
let app: FastifyInstance;
let url: string;

beforeAll(async () => {
  t = await makeTestLog();
  const allowList = new AllowList([
    {
      name: 'repository',
      publicKey: repository.publicKey,
      allow: ['POST /add', 'POST /add-batch'],
    },
    { name: 'someone else', publicKey: witnessOperator.publicKey, allow: ['POST /elsewhere'] },
  ]);
  app = buildServer({ log: t.log, writers: { allowList } });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.close();
  await t.close();
});

const endpoints = [
  { route: 'POST /add', path: '/add', body: utf8('entry') },
  { route: 'POST /add-batch', path: '/add-batch', body: encodeBundle([utf8('a'), utf8('b')]) },
];

describe.each(endpoints)('$route', ({ route, path, body }) => {
  const cases = refusalCases({
    allowed: repository.privateKey,
    otherCaller: witnessOperator.privateKey,
  });
  it.each(cases)('refuses $name with a code and sequences nothing new', async (c) => {
    const before = await t.storage.sequencedSize();
    const endpoint = {
      url: `${url}${path}`,
      method: 'POST',
      contentType: 'application/octet-stream',
      body,
    };
    expect(await refusalOf(await c.send(endpoint))).toEqual([c.status, c.code]);
    // A replay's original is a real write; the copy adds nothing.
    const originals = c.code === 'AUTH_SIGNATURE_REPLAYED' ? (path === '/add' ? 1n : 2n) : 0n;
    expect(await t.storage.sequencedSize()).toBe(before + originals);
    expect(await t.log.metrics.metricsText()).toContain(
      `glasshouse_http_writes_refused_total{reason="${c.code}",route="${route}"}`,
    );
  });
});

describe('an allowed caller', () => {
  it('adds through LogClient with a signing fetch', async () => {
    const client = new LogClient(url, {
      fetch: signedFetch(new RequestSigner({ privateKey: repository.privateKey })),
    });
    const before = await t.storage.sequencedSize();
    const added = await client.add(utf8('signed entry'));
    expect(added.index).toBe(before);
    const batch = await client.addBatch([utf8('x'), utf8('y')]);
    expect(batch.indices).toEqual([before + 1n, before + 2n]);
  });

  it('leaves reads open', async () => {
    expect((await fetch(`${url}/checkpoint`)).status).toBe(200);
  });
});
