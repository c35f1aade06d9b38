/**
 * add-checkpoint stays open (the checkpoint's signature says which log sent
 * it) but is bounded per client: a burst past the limit gets 429 with
 * Retry-After; a client from another address is unaffected.
 */
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCosignerKey } from '@glasshouse/tlog';
import {
  buildWitnessServer,
  createWitness,
  openSqliteState,
  type SqliteState,
} from '../src/index.js';

let dir: string;
let state: SqliteState;
let app: ReturnType<typeof buildWitnessServer>;
let port: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glasshouse-witness-limit-'));
  state = await openSqliteState({ dir });
  const witness = createWitness({
    cosigner: generateCosignerKey('witness.example/limited').signerKey,
    state,
    now: () => BigInt(Math.floor(Date.now() / 1000)),
  });
  app = buildWitnessServer({ witness, state, rateLimit: { burst: 5, perSecond: 0.2 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  port = typeof address === 'object' && address !== null ? address.port : 0;
});
afterAll(async () => {
  await app.close();
  await state.close();
  await rm(dir, { recursive: true, force: true });
});

/** POST add-checkpoint from `from` (a loopback source address). */
function post(
  from: string,
): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/add-checkpoint', localAddress: from },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          const retry = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, retryAfter: retry, body });
        });
      },
    );
    req.on('error', reject);
    req.end('old 0\n\nnot a checkpoint\n');
  });
}

describe('add-checkpoint rate limit', () => {
  it('answers 429 with Retry-After past the burst; another client is unaffected', async () => {
    const first: number[] = [];
    for (let i = 0; i < 5; i++) first.push((await post('127.0.0.1')).status);
    expect(first.every((s) => s === 400)).toBe(true);
    const limited = await post('127.0.0.1');
    expect(limited.status).toBe(429);
    expect(limited.retryAfter).toBe('5');
    expect(limited.body).toMatch(/^RATE_LIMITED: /);
    expect((await post('127.0.0.2')).status).toBe(400);
    expect(await app.metrics.registry.metrics()).toContain(
      'glasshouse_http_rate_limited_total{route="POST /add-checkpoint"} 1',
    );
  });
});
