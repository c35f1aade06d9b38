import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepAliveFetch } from '../src/fetch.js';

let server: Server;
let base: string;
const ports: number[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    ports.push(req.socket.remotePort ?? 0);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      switch (req.url ?? '') {
        case '/echo':
          res.writeHead(201, { 'content-type': 'application/json', 'x-two': ['a', 'b'] });
          res.end(
            JSON.stringify({
              method: req.method,
              type: req.headers['content-type'] ?? null,
              length: req.headers['content-length'] ?? null,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          return;
        case '/refused':
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end('{"code":"NOT_FOUND"}');
          return;
        case '/empty':
          res.writeHead(204);
          res.end();
          return;
        case '/large':
          res.end('x'.repeat(2048));
          return;
        case '/slow':
          setTimeout(() => res.end('late'), 2_000);
          return;
        default:
          res.writeHead(500);
          res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('keepAliveFetch', () => {
  const f = keepAliveFetch({ maxBodyBytes: 1024 });

  it('sends method, headers and a string or byte body; answers status, headers and body', async () => {
    const res = await f(`${base}/echo`, {
      method: 'post',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-two')).toBe('a, b');
    expect(await res.json()).toEqual({
      method: 'POST',
      type: 'application/json',
      length: '7',
      body: '{"a":1}',
    });
    const bytes = await f(`${base}/echo`, { method: 'PUT', body: new TextEncoder().encode('é') });
    expect(((await bytes.json()) as { body: string }).body).toBe('é');
  });

  it('answers error statuses as responses and 204 without a body', async () => {
    const refused = await f(new URL('/refused', base));
    expect(refused.ok).toBe(false);
    expect(await refused.json()).toEqual({ code: 'NOT_FOUND' });
    const empty = await f(`${base}/empty`, { method: 'DELETE' });
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it('reuses one connection for requests in sequence', async () => {
    ports.length = 0;
    for (let i = 0; i < 3; i++) await (await f(`${base}/echo`)).text();
    expect(new Set(ports).size).toBe(1);
  });

  it('fails like fetch: a body over the cap, a refused connection, an abort', async () => {
    await expect(f(`${base}/large`)).rejects.toThrow(TypeError);
    await expect(f('http://127.0.0.1:1/')).rejects.toThrow('fetch failed');
    await expect(f(`${base}/slow`, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    await expect(f('file:///etc/hosts')).rejects.toThrow(TypeError);
  });
});
