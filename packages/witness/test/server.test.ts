import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cosignatureTimestamp,
  encodeBase64,
  generateCosignerKey,
  openNote,
  parseCosignatureVerifierKey,
  parseVerifierKey,
} from '@glasshouse/tlog';
import { TestLog } from './witness-fixture.js';
import {
  addCheckpoint,
  formatAddCheckpointRequest,
  MAX_WITNESS_RESPONSE_SIZE,
} from '../src/client.js';
import { buildWitnessServer } from '../src/server.js';
import { openSqliteState, type SqliteState } from '../src/sqlite-state.js';
import { createWitness, MAX_REQUEST_SIZE } from '../src/witness.js';

const NOW = 1_760_000_000n;
const ORIGIN = 'example.com/served-log';

let dir: string;
let state: SqliteState;
let app: ReturnType<typeof buildWitnessServer>;
let url: string;
let witnessVkey: string;
const log = new TestLog(ORIGIN);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'glasshouse-witness-server-'));
  state = await openSqliteState({ dir });
  const keys = generateCosignerKey('witness.example/served');
  witnessVkey = keys.verifierKey;
  const witness = createWitness({ cosigner: keys.signerKey, state, now: () => NOW });
  await witness.addLog(log.verifierKey);
  app = buildWitnessServer({ witness, state });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.close();
  await state.close();
  await rm(dir, { recursive: true, force: true });
});

async function post(body: string | Uint8Array, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/add-checkpoint`, { method: 'POST', body, headers });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('POST /add-checkpoint over HTTP', () => {
  it('walks a log through 200, 409, 422, 403, 404 and 400', async () => {
    // 200: the first checkpoint, old 0, empty proof — through the client.
    log.append(5);
    const first = await addCheckpoint(url, {
      oldSize: 0n,
      consistencyProof: [],
      checkpoint: await log.checkpoint(),
    });
    expect(first.kind).toBe('cosigned');
    if (first.kind !== 'cosigned') return;
    const opened = openNote((await log.checkpoint()) + first.signatureLines.join(''), [
      parseCosignatureVerifierKey(witnessVkey),
      parseVerifierKey(log.verifierKey),
    ]);
    expect(opened.verified.map((s) => s.name)).toEqual([ORIGIN, 'witness.example/served']);
    expect(cosignatureTimestamp(opened.verified[1]!.signature)).toBe(NOW);

    // 200: extending with a proof, with a trailing slash on the prefix.
    log.append(7);
    const second = await addCheckpoint(`${url}/`, {
      oldSize: 5n,
      consistencyProof: await log.proof(5n),
      checkpoint: await log.checkpoint(),
    });
    expect(second.kind).toBe('cosigned');

    // 409: a stale old size; text/x.tlog.size with the witness's size.
    log.append(1);
    const stale = await post(await log.request(5n));
    expect(stale).toEqual({ status: 409, type: 'text/x.tlog.size', text: '12\n' });
    expect(
      await addCheckpoint(url, {
        oldSize: 5n,
        consistencyProof: await log.proof(5n),
        checkpoint: await log.checkpoint(),
      }),
    ).toEqual({ kind: 'conflict', witnessSize: 12n });

    // 422: a proof that does not verify.
    const proof = await log.proof(12n);
    const bad = proof.map((h) => Uint8Array.from(h, (b) => b ^ 0x80));
    const r422 = await post(
      formatAddCheckpointRequest({
        oldSize: 12n,
        consistencyProof: bad,
        checkpoint: await log.checkpoint(),
      }),
    );
    expect(r422.status).toBe(422);
    expect(r422.type).toMatch(/^text\/plain/);
    expect(r422.text).toMatch(/^CONSISTENCY_PROOF_INVALID: /);

    // 403: signed by a key the witness does not trust for this origin.
    const impostor = new TestLog(ORIGIN).append(13);
    expect((await post(await impostor.request(12n))).status).toBe(403);

    // 404: an unknown origin, through the client.
    const unknown = new TestLog('example.com/nobody').append(1);
    const r404 = await addCheckpoint(url, {
      oldSize: 0n,
      consistencyProof: [],
      checkpoint: await unknown.checkpoint(),
    });
    expect(r404).toMatchObject({ kind: 'rejected', status: 404 });

    // 400: malformed.
    expect((await post(`old 012\n\n${await log.checkpoint()}`)).status).toBe(400);
    expect((await post('')).status).toBe(400);

    // The witness did not move past what it cosigned.
    expect((await state.getLatest(ORIGIN))?.size).toBe(12n);
  });

  it('answers 400, not a crash, to oversize bodies, any media type and garbage', async () => {
    const big = await post(new Uint8Array(MAX_REQUEST_SIZE + 1));
    expect(big.status).toBe(400);
    expect(big.text).toMatch(/^REQUEST_TOO_LARGE/);
    expect((await post('old 0\n', { 'content-type': 'application/json' })).status).toBe(400);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        const res = await app.inject({
          method: 'POST',
          url: '/add-checkpoint',
          payload: Buffer.from(bytes),
          headers: { 'content-type': 'application/octet-stream' },
        });
        return res.statusCode === 400 || res.statusCode === 404;
      }),
      { numRuns: 100 },
    );
    // Structured garbage: a valid frame around random lines.
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (s) => {
        const res = await app.inject({
          method: 'POST',
          url: '/add-checkpoint',
          payload: `old 0\n\n${ORIGIN}\n${s}\n\n— ${ORIGIN} AAAA\n`,
        });
        return res.statusCode >= 400 && res.statusCode < 500;
      }),
      { numRuns: 100 },
    );
  });

  it('is a POST only', async () => {
    const res = await fetch(`${url}/add-checkpoint`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('GET /<hex SHA-256 of origin>/checkpoint', () => {
  it('serves the latest cosigned checkpoint, uncached', async () => {
    const hash = createHash('sha256').update(ORIGIN).digest('hex');
    const res = await fetch(`${url}/${hash}/checkpoint`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const note = await res.text();
    const opened = openNote(note, [
      parseVerifierKey(log.verifierKey),
      parseCosignatureVerifierKey(witnessVkey),
    ]);
    expect(opened.verified).toHaveLength(2);
    expect(opened.text.split('\n')[1]).toBe('12');

    const nobody = createHash('sha256').update('example.com/nobody').digest('hex');
    expect((await fetch(`${url}/${nobody}/checkpoint`)).status).toBe(404);
    expect((await fetch(`${url}/${hash.toUpperCase()}/checkpoint`)).status).toBe(404);
    expect((await fetch(`${url}/nothex/checkpoint`)).status).toBe(404);
  });
});

describe('health and metrics', () => {
  it('reports health and counts answers by status', async () => {
    const health = (await (await fetch(`${url}/healthz`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', verifierKey: witnessVkey, logs: 1 });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/glasshouse_witness_add_checkpoint_total\{status="200"\} [1-9]/);
    expect(metrics).toMatch(/glasshouse_witness_add_checkpoint_total\{status="409"\} [1-9]/);
  });
});

describe('client', () => {
  const req = { oldSize: 0n, consistencyProof: [], checkpoint: 'x\n0\nroot\n\n— x AAAA\n' };
  const answer =
    (status: number, body: string | Uint8Array, headers: Record<string, string> = {}) =>
    (): Promise<Response> =>
      Promise.resolve(new Response(body, { status, headers }));

  it('formats the request body exactly', () => {
    const h = new Uint8Array(32).fill(7);
    expect(
      formatAddCheckpointRequest({ oldSize: 20n, consistencyProof: [h, h], checkpoint: 'cp\n' }),
    ).toBe(`old 20\n${encodeBase64(h)}\n${encodeBase64(h)}\n\ncp\n`);
    const bad = [
      { oldSize: -1n, consistencyProof: [], checkpoint: 'cp\n' },
      { oldSize: 1n << 64n, consistencyProof: [], checkpoint: 'cp\n' },
      { oldSize: 0n, consistencyProof: [h], checkpoint: 'cp\n' },
      { oldSize: 1n, consistencyProof: [new Uint8Array(31)], checkpoint: 'cp\n' },
      { oldSize: 1n, consistencyProof: Array.from({ length: 64 }, () => h), checkpoint: 'cp\n' },
      { oldSize: 1n, consistencyProof: [], checkpoint: 'no newline' },
    ];
    for (const r of bad) {
      expect(() => formatAddCheckpointRequest(r)).toThrow(
        expect.objectContaining({ code: 'REQUEST_INVALID' }) as Error,
      );
    }
  });

  it('reads answers strictly and bounded', async () => {
    const line = `— w ${encodeBase64(new Uint8Array(76))}\n`;
    expect(await addCheckpoint('http://w', req, { fetch: answer(200, line + line) })).toEqual({
      kind: 'cosigned',
      signatureLines: [line, line],
    });
    const sizeType = { 'content-type': 'text/x.tlog.size' };
    expect(await addCheckpoint('http://w', req, { fetch: answer(409, '7\n', sizeType) })).toEqual({
      kind: 'conflict',
      witnessSize: 7n,
    });
    expect(await addCheckpoint('http://w', req, { fetch: answer(503, 'busy') })).toEqual({
      kind: 'rejected',
      status: 503,
      reason: 'busy',
    });
    const invalid: [number, string, Record<string, string>][] = [
      [409, '7\n', { 'content-type': 'text/plain' }],
      [409, '07\n', sizeType],
      [409, '7', sizeType],
      [200, '', {}],
      [200, 'not a signature\n', {}],
      [200, line.trimEnd(), {}],
    ];
    for (const [status, body, headers] of invalid) {
      await expect(
        addCheckpoint('http://w', req, { fetch: answer(status, body, headers) }),
      ).rejects.toMatchObject({ code: 'RESPONSE_INVALID' });
    }
    await expect(
      addCheckpoint('http://w', req, {
        fetch: answer(200, new Uint8Array(MAX_WITNESS_RESPONSE_SIZE + 1)),
      }),
    ).rejects.toMatchObject({ code: 'RESPONSE_TOO_LARGE' });
  });

  it('throws WITNESS_UNREACHABLE on network errors and timeouts', async () => {
    // A port nothing listens on: bind one, note it, close it.
    const probe = buildWitnessServer({
      witness: createWitness({
        cosigner: generateCosignerKey('w').signerKey,
        state,
        now: () => NOW,
      }),
      state,
    });
    const closedUrl = await probe.listen({ host: '127.0.0.1', port: 0 });
    await probe.close();
    await expect(addCheckpoint(closedUrl, req)).rejects.toMatchObject({
      code: 'WITNESS_UNREACHABLE',
    });
    const never = (_u: unknown, init?: RequestInit): Promise<Response> =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => {
          reject(init.signal?.reason as Error);
        });
      });
    await expect(
      addCheckpoint('http://w', req, { fetch: never, timeoutMs: 50 }),
    ).rejects.toMatchObject({ code: 'WITNESS_UNREACHABLE' });
  });
});
