import { type IncomingMessage, type Server, createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectionCode } from '../../errors/test/codes.js';
import { readBoundedBody, readBoundedText, readCapped } from '../src/body.js';

const MAX = 1024;
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    switch (req.url ?? '') {
      case '/small':
        res.end('hello');
        return;
      case '/exact':
        res.end('x'.repeat(MAX));
        return;
      case '/declared-large':
        res.writeHead(200, { 'content-length': String(MAX + 1) });
        res.end('y'.repeat(MAX + 1));
        return;
      case '/chunked-large':
        // No Content-Length: only counting the bytes can stop it.
        res.write('z'.repeat(MAX));
        res.end('z'.repeat(MAX));
        return;
      case '/gzip-bomb':
        res.writeHead(200, { 'content-encoding': 'gzip' });
        res.end(gzipSync(Buffer.alloc(MAX * 64)));
        return;
      case '/endless':
        // Never ends: a reader that does not stop at the limit would hang.
        res.write('e'.repeat(MAX + 1));
        return;
      case '/latin1':
        res.end(Buffer.from([0x61, 0xff, 0x62]));
        return;
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const fetched = (path: string): Promise<Response> => fetch(`${base}${path}`);

describe('readBoundedBody', () => {
  it('reads bodies up to the limit', async () => {
    expect(Buffer.from(await readBoundedBody(await fetched('/small'), MAX)).toString()).toBe(
      'hello',
    );
    expect((await readBoundedBody(await fetched('/exact'), MAX)).byteLength).toBe(MAX);
  });

  it.each(['/declared-large', '/chunked-large', '/gzip-bomb'])(
    'refuses %s with BODY_TOO_LARGE',
    async (path) => {
      expect(await rejectionCode(readBoundedBody(await fetched(path), MAX))).toBe('BODY_TOO_LARGE');
    },
  );

  it('decodes text as UTF-8, replacing malformed bytes', async () => {
    expect(await readBoundedText(await fetched('/latin1'), MAX)).toBe('a\uFFFDb');
  });
});

describe('readCapped', () => {
  const message = (path: string): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => get(`${base}${path}`, resolve).on('error', reject));

  it('reads a node:http message up to the limit', async () => {
    expect((await readCapped(await message('/exact'), MAX)).byteLength).toBe(MAX);
  });

  it('refuses a node:http message over the limit without reading to its end', async () => {
    expect(await rejectionCode(readCapped(await message('/chunked-large'), MAX))).toBe(
      'BODY_TOO_LARGE',
    );
    expect(await rejectionCode(readCapped(await message('/endless'), MAX))).toBe('BODY_TOO_LARGE');
  });
});
